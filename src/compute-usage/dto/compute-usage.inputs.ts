import { Field, Float, ID, InputType, Int } from '@nestjs/graphql';

@InputType('ComputeUsageInput', {
  description:
    "One model call's consumption. Field names follow the OpenTelemetry GenAI conventions; as there, inputTokens includes cachedInputTokens and outputTokens includes reasoningOutputTokens.",
})
export class ComputeUsageInput {
  @Field({ description: 'Idempotency, 1 to 255 characters without control characters: the same eventId is counted once, forever.' })
  eventId!: string;

  @Field(() => ID, { nullable: true, description: 'The work unit charged; it must be one of your organization.' })
  workUnitId?: string | null;

  @Field({ description: 'The provider, as gen_ai.provider.name (e.g. openai, anthropic, self-hosted), up to 255 characters.' })
  provider!: string;

  @Field({ description: 'The model, as gen_ai.response.model, up to 255 characters.' })
  model!: string;

  @Field(() => Int, { description: 'Input tokens, cached ones included: 0 to 1,000,000,000.' })
  inputTokens!: number;

  @Field(() => Int, { description: 'Output tokens, reasoning ones included: 0 to 1,000,000,000.' })
  outputTokens!: number;

  @Field(() => Int, { nullable: true, description: 'The part of inputTokens read from a cache (at most inputTokens).' })
  cachedInputTokens?: number | null;

  @Field(() => Int, { nullable: true, description: 'The part of outputTokens spent reasoning (at most outputTokens).' })
  reasoningOutputTokens?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "The call's cost in the organization's currency (0 to 1,000,000,000); when absent, priced from the model price table in force at occurredAt.",
  })
  cost?: number | null;

  @Field({
    description: 'When the call happened (its end); at most 5 minutes ahead of the server clock and not older than the configured limit (400 days by default).',
  })
  occurredAt!: Date;
}

@InputType('ModelPriceInput', { description: "A version of a model's price, in the organization's currency per million tokens." })
export class ModelPriceInput {
  @Field({ description: 'The provider, as in ComputeUsageInput.provider.' })
  provider!: string;

  @Field({ description: 'The model, as in ComputeUsageInput.model.' })
  model!: string;

  @Field(() => Float, { description: 'Price of one million input tokens that were not cached (0 to 1,000,000).' })
  inputPerMillion!: number;

  @Field(() => Float, { description: 'Price of one million output tokens, reasoning included (0 to 1,000,000).' })
  outputPerMillion!: number;

  @Field(() => Float, { nullable: true, description: 'Price of one million cached input tokens; default: inputPerMillion.' })
  cachedInputPerMillion?: number | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When this price starts to apply; default now. A past date prices the earlier unpriced events of the model with correction rows; it never rewrites a priced one.',
  })
  effectiveFrom?: Date | null;
}
