import { Field, Float, ID, ObjectType, registerEnumType } from '@nestjs/graphql';

export enum BudgetScope {
  ORGANIZATION = 'ORGANIZATION',
  TEAM = 'TEAM',
  PRINCIPAL = 'PRINCIPAL',
  WORK_UNIT = 'WORK_UNIT',
}
registerEnumType(BudgetScope, { name: 'BudgetScope', description: 'Whose spending a budget limits.' });

export enum BudgetPeriod {
  DAY = 'DAY',
  MONTH = 'MONTH',
  TOTAL = 'TOTAL',
}
registerEnumType(BudgetPeriod, { name: 'BudgetPeriod', description: 'DAY and MONTH are UTC calendar periods; TOTAL never resets.' });

export enum ReservationState {
  OPEN = 'OPEN',
  SETTLED = 'SETTLED',
  EXPIRED = 'EXPIRED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(ReservationState, { name: 'ReservationState', description: "A compute reservation's state." });

@ObjectType('ComputeBudget', {
  description:
    "A spending limit on compute, in the organization's currency. Every budget whose scope matches a reservation (the organization, the caller's team, the caller, the work unit) must have room for it; the check and the hold are one atomic step over all of them.",
})
export class ComputeBudget {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => BudgetScope)
  scope!: BudgetScope;

  @Field(() => String, { nullable: true, description: 'TEAM budgets: the team.' })
  team!: string | null;

  @Field(() => BudgetPeriod)
  period!: BudgetPeriod;

  @Field(() => Float, { description: "The limit per period, in the organization's currency." })
  limit!: number;

  @Field(() => Float, {
    description: 'Cost recorded in the current period: settled reservations and every other compute usage recorded for this scope (recordComputeUsage, OTLP).',
  })
  spent!: number;

  @Field(() => Float, { description: 'Held by OPEN reservations made in the current period.' })
  reserved!: number;

  @Field(() => Float, { description: 'max(0, limit - spent - reserved).' })
  remaining!: number;

  @Field(() => Date, { nullable: true, description: 'Start of the current period (UTC); null for TOTAL.' })
  periodStart!: Date | null;

  organizationId!: string;
  principalId!: string | null;
  workUnitId!: string | null;
}

@ObjectType('ComputeReservation', { description: 'A hold on the compute budgets that apply to a model call, made before the call and settled after it.' })
export class ComputeReservation {
  @Field(() => ID)
  id!: string;

  @Field(() => ReservationState)
  state!: ReservationState;

  @Field(() => Float, { description: 'The amount held while OPEN.' })
  amount!: number;

  @Field({ description: 'An OPEN reservation not settled by then expires and its hold is released.' })
  expiresAt!: Date;

  @Field(() => Float, { nullable: true, description: 'The cost of the usage it was settled with (may exceed amount).' })
  settledCost!: number | null;

  organizationId!: string;
  principalId!: string;
  workUnitId!: string | null;
  /** Ids of the budgets it holds (or held). */
  budgetIds!: string[];
}
