import type { ValueTransformer } from 'typeorm';

/**
 * `pg` hands numeric and bigint columns over as strings, since they can exceed a JS number's
 * precision; columns whose values fit (credit-seconds, prices, token sums) read as numbers.
 */
export const numericColumn: ValueTransformer = { to: (v: number) => v, from: (v: string) => Number(v) };

/** As numericColumn, for a nullable column. */
export const nullableNumericColumn: ValueTransformer = { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) };
