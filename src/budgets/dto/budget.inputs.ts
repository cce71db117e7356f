import { Field, Float, ID, InputType, Int } from '@nestjs/graphql';
import { BudgetPeriod, BudgetScope } from '../budget.model';

@InputType('CreateComputeBudgetInput', { description: 'A new compute budget.' })
export class CreateComputeBudgetInput {
  @Field({ description: 'A name unique in the organization, 1 to 200 characters.' })
  name!: string;

  @Field(() => BudgetScope)
  scope!: BudgetScope;

  @Field(() => String, { nullable: true, description: 'TEAM budgets: the team, as principals carry it (required for TEAM, refused otherwise).' })
  team?: string | null;

  @Field(() => ID, { nullable: true, description: 'PRINCIPAL budgets: a principal of your organization (required for PRINCIPAL, refused otherwise).' })
  principalId?: string | null;

  @Field(() => ID, { nullable: true, description: 'WORK_UNIT budgets: a work unit of your organization (required for WORK_UNIT, refused otherwise).' })
  workUnitId?: string | null;

  @Field(() => BudgetPeriod)
  period!: BudgetPeriod;

  @Field(() => Float, { description: "The limit per period in the organization's currency, 0 to 1,000,000,000." })
  limit!: number;
}

@InputType('UpdateComputeBudgetInput', { description: 'Changes to a compute budget; lowering the limit ends no reservation.' })
export class UpdateComputeBudgetInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Float, { nullable: true })
  limit?: number | null;
}

@InputType('ReserveComputeInput', { description: 'A model call about to be made: what to hold on the budgets that apply to it.' })
export class ReserveComputeInput {
  @Field({ description: 'The provider, as gen_ai.provider.name.' })
  provider!: string;

  @Field({ description: 'The model, as gen_ai.request.model.' })
  model!: string;

  @Field(() => Int, { description: "The call's prompt tokens (or a bound), 0 to 1,000,000,000." })
  maxInputTokens!: number;

  @Field(() => Int, { description: 'The max_tokens the call will pass, 0 to 1,000,000,000.' })
  maxOutputTokens!: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Hold this much (0 to 1,000,000,000) instead of pricing the bounds from the price table; required when the model has no price.',
  })
  amount?: number | null;

  @Field(() => ID, { nullable: true, description: 'The work unit the call is for; its budgets apply too.' })
  workUnitId?: string | null;

  @Field(() => Int, { nullable: true, description: 'How long the hold lasts unless settled or cancelled: 5 to 3,600 seconds, default 300.' })
  reservationSeconds?: number | null;

  @Field(() => String, { nullable: true, description: 'A retry with the same key and arguments returns the same reservation (printable ASCII, up to 255).' })
  idempotencyKey?: string | null;
}
