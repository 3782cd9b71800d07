/** Token buckets shared by every edge instance (Durable Objects on Workers, memory on Node). */

export interface TakeResult {
  granted: boolean;
  /** Tokens left after this take (0 when refused). */
  remaining: number;
  /** When refused: how long until `n` tokens are there. */
  retryAfterMs: number;
}

export interface BucketLimit {
  ratePerSec: number;
  burst: number;
}

export interface Counters {
  take(name: string, n: number, limit: BucketLimit): Promise<TakeResult>;
}
