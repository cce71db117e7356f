import { Args, Mutation, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { ComputeUsageResult } from './compute-usage.model';
import { ComputeUsageService } from './compute-usage.service';
import { ComputeUsageInput, ModelPriceInput } from './dto/compute-usage.inputs';
import { ModelPricesService } from './model-prices.service';

@Resolver()
export class ComputeUsageResolver {
  constructor(
    private readonly usage: ComputeUsageService,
    private readonly prices: ModelPricesService,
  ) {}

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => ComputeUsageResult, {
    description:
      'Records up to 1,000 compute events. All or nothing: one invalid event refuses the whole batch with BAD_USER_INPUT and extensions.field = "events[i].<field>". A replayed eventId counts in duplicates (same content) or conflicts (other content, not recorded).',
  })
  async recordComputeUsage(
    @CurrentAuth() auth: AuthContext,
    @Args('events', { type: () => [ComputeUsageInput], description: 'The events, 1 to 1,000.' }) events: ComputeUsageInput[],
  ): Promise<ComputeUsageResult> {
    return this.usage.record(auth, events);
  }

  @Roles('ADMIN')
  @Mutation(() => Boolean, {
    description: "Adds a version of a model's price (ADMIN); a past effectiveFrom prices earlier unpriced events with correction rows.",
  })
  async setModelPrice(@CurrentAuth() auth: AuthContext, @Args('input', { description: 'The price.' }) input: ModelPriceInput): Promise<boolean> {
    await this.prices.set(auth, input);
    return true;
  }
}
