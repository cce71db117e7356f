import { Field, Float, Int, ObjectType, registerEnumType } from '@nestjs/graphql';

export const Bucket = { HOUR: 'HOUR', DAY: 'DAY' } as const;
export type BucketValue = keyof typeof Bucket;
registerEnumType(Bucket, {
  name: 'Bucket',
  description: 'The length of a time-series point; DAY buckets are UTC days.',
  valuesMap: { HOUR: { description: 'One UTC hour.' }, DAY: { description: 'One UTC day.' } },
});

@ObjectType('PoolUsagePoint', { description: "A pool's use over one bucket of a window (the first and last may be partial)." })
export class PoolUsagePoint {
  @Field({ description: 'Start of the bucket, or of the window when it starts inside the bucket.' })
  start!: Date;

  @Field(() => Int, { description: 'The cap in force at `start`.' })
  cap!: number;

  @Field(() => Int, { description: 'Most credits held at once in the bucket.' })
  peakInUse!: number;

  @Field(() => Float, { description: 'Time-weighted average of the credits in use over the bucket (its part in the window, up to now).' })
  averageInUse!: number;

  @Field(() => Int, { description: 'True denials in the bucket.' })
  denials!: number;

  @Field(() => Int, { description: 'False denials in the bucket (followed by a grant within the interval).' })
  falseDenials!: number;
}

@ObjectType('UsageLevel', { description: 'A level of use and the share of the window the pool spent there.' })
export class UsageLevel {
  @Field(() => Int, { description: 'Credits in use.' })
  credits!: number;

  @Field(() => Float, { description: 'Share of the window (up to now) the pool spent at exactly this level, 0..1.' })
  shareOfTime!: number;
}
