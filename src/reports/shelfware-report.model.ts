import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { App } from '../apps/app.model';
import { Pool } from '../pools/pool.model';
import { Principal } from '../principals/principal.model';

@ObjectType('AppUsage', { description: "One app's use of its pool over a report window." })
export class AppUsage {
  @Field(() => App, { description: 'The app.' })
  app!: App;

  @Field(() => Int, { description: 'Leases granted in the window (leases that joined a shared draw included).' })
  leases!: number;

  @Field(() => Float, { description: "Credit-hours the app's draws held in the window." })
  creditHours!: number;

  @Field(() => Int, { description: "Most credits the app's draws held at once in the window." })
  peakCredits!: number;

  @Field(() => Int, { description: 'Distinct principals granted the app in the window.' })
  distinctPrincipals!: number;

  @Field(() => Int, { description: 'True denials of the app in the window (false denials left out).' })
  denials!: number;

  @Field(() => Float, { description: 'Credit-hours held while every live lease of the draw reported its user idle.' })
  idleCreditHours!: number;
}

@ObjectType('ShelfwareReport', { description: 'How much of a pool was used over [from, to), what sat idle, and what the cap could be.' })
export class ShelfwareReport {
  @Field(() => Pool, { description: 'The pool.' })
  pool!: Pool;

  @Field({ description: 'Window start (inclusive).' })
  from!: Date;

  @Field({ description: 'Window end (exclusive). Time after now is not measured.' })
  to!: Date;

  @Field(() => Int, { description: 'The cap in force at `to` (the figures use the cap in force at each instant).' })
  cap!: number;

  @Field(() => Int, { description: 'Most credits held at once, for any length of time.' })
  peakInUse!: number;

  @Field(() => Float, { description: 'Time-weighted 95th percentile of the credits in use over [from, to).' })
  p95InUse!: number;

  @Field(() => Float, { description: 'Time-weighted average of the credits in use over [from, to).' })
  averageInUse!: number;

  @Field(() => Float, {
    description: 'Credit-hours used divided by credit-hours of capacity (the cap in force at each instant); averageInUse / cap when the cap did not change.',
  })
  utilization!: number;

  @Field(() => Float, { description: 'Credit-hours of capacity over the window minus credit-hours used.' })
  unusedCreditHours!: number;

  @Field(() => Int, { description: 'True denials: refusals not followed by a grant of the same app to the same principal within the interval.' })
  denials!: number;

  @Field(() => Int, { description: 'Denials followed by a grant of the same app to the same principal within the interval (FALSE_DENIAL_SECONDS).' })
  falseDenials!: number;

  @Field(() => Int, {
    description: 'Smallest cap that would have refused no request of the window (or at most the tolerated share), never below the dearest app cost.',
  })
  suggestedCap!: number;

  @Field(() => Float, {
    nullable: true,
    description: '(cap - suggestedCap) x window hours x creditHourPrice; null without a price or when suggestedCap >= cap.',
  })
  estimatedSavings!: number | null;

  @Field(() => [AppUsage], { description: 'Every app of the pool, by key, with its use (zeros for shelfware).' })
  apps!: AppUsage[];

  @Field(() => [Principal], { description: 'Principals granted a lease from this pool in the 90 days before `from` and none in the window, by name.' })
  lapsedPrincipals!: Principal[];
}
