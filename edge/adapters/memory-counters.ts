/**
 * The counters port in process memory: exact for the embedded single-process platform. The
 * bucket arithmetic is the shared pure one, the same the Durable Object runs.
 */
import type { BucketLimit, Counters, TakeResult } from '../ports/counters.ts';
import { take, type BucketState } from '../../shared/policy/token-bucket.ts';

export class MemoryCounters implements Counters {
  private readonly buckets = new Map<string, BucketState>();
  constructor(private readonly now: () => number = Date.now) {}

  async take(name: string, n: number, limit: BucketLimit): Promise<TakeResult> {
    const now = this.now();
    const state = this.buckets.get(name) ?? { tokens: limit.burst, updatedAt: now };
    const result = take(state, n, now, limit);
    this.buckets.set(name, result.state);
    return { granted: result.granted, remaining: Math.floor(result.state.tokens), retryAfterMs: result.retryAfterMs };
  }
}
