/**
 * Fixed log-scale latency histograms (pure). Bucket 0 holds [0, 1) ms; bucket i ≥ 1 holds
 * [2^((i-1)/4), 2^(i/4)) ms, so every bucket is 2^(1/4) ≈ 1.19 times as wide as its lower bound:
 * a percentile read from the buckets is known to within that factor (≈ 19 %). The last bucket
 * takes everything from 2^((MAX-1)/4) ms ≈ 30 days up.
 */

/** Buckets per doubling. */
export const BUCKETS_PER_DOUBLING = 4;
export const MAX_BUCKET = 4 * 32;
/** Upper bound over lower bound of every bucket but the first and the last. */
export const BUCKET_RESOLUTION = 2 ** (1 / BUCKETS_PER_DOUBLING);

export function bucketOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(MAX_BUCKET, Math.floor(BUCKETS_PER_DOUBLING * Math.log2(ms)) + 1);
}

/** The bucket's range in ms: [lower, upper). */
export function bucketBounds(bucket: number): { lower: number; upper: number } {
  if (bucket <= 0) return { lower: 0, upper: 1 };
  return { lower: 2 ** ((bucket - 1) / BUCKETS_PER_DOUBLING), upper: bucket >= MAX_BUCKET ? Number.POSITIVE_INFINITY : 2 ** (bucket / BUCKETS_PER_DOUBLING) };
}

export type Histogram = ReadonlyMap<number, number>;

export interface PercentileEstimate {
  /** The bucket holding the nearest-rank percentile: the true value is at least `lower_ms`, below `upper_ms`. */
  lower_ms: number;
  upper_ms: number;
  /** The bucket's geometric middle: off from the true value by at most √(2^(1/4)) ≈ 9 %. */
  value_ms: number;
}

/** Nearest-rank percentile (the ⌈p·n⌉-th smallest value) located in its bucket; null when empty. */
export function percentile(h: Histogram, p: number): PercentileEstimate | null {
  const total = countOf(h);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const bucket of [...h.keys()].sort((a, b) => a - b)) {
    seen += h.get(bucket)!;
    if (seen >= rank) return estimate(bucket);
  }
  return estimate(Math.max(...h.keys()));
}

function estimate(bucket: number): PercentileEstimate {
  const { lower, upper } = bucketBounds(bucket);
  const value = bucket === 0 ? 0.5 : Number.isFinite(upper) ? Math.sqrt(lower * upper) : lower;
  return { lower_ms: round(lower), upper_ms: Number.isFinite(upper) ? round(upper) : lower, value_ms: round(value) };
}

const round = (v: number) => Math.round(v * 1000) / 1000;

export function countOf(h: Histogram): number {
  let n = 0;
  for (const c of h.values()) n += c;
  return n;
}

/** Adds rows of (bucket, count) into a histogram. */
export function histogramOf(rows: Iterable<{ bucket: number; count: number }>): Map<number, number> {
  const h = new Map<number, number>();
  for (const r of rows) h.set(r.bucket, (h.get(r.bucket) ?? 0) + r.count);
  return h;
}
