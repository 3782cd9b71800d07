/**
 * The Counters port over the RateCounter Durable Object: one object per bucket name, reached by
 * RPC. Every edge instance resolves the same name to the same object, so a limit holds across
 * all of them.
 */
import type { BucketLimit, Counters, TakeResult } from '../ports/counters.ts';
import type { RateCounter } from './rate-counter.ts';

export class DurableCounters implements Counters {
  constructor(private readonly namespace: DurableObjectNamespace<RateCounter>) {}

  async take(name: string, n: number, limit: BucketLimit): Promise<TakeResult> {
    const stub = this.namespace.get(this.namespace.idFromName(name));
    return stub.take(name, n, { ratePerSec: limit.ratePerSec, burst: limit.burst });
  }
}
