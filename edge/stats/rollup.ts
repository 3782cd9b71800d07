/**
 * What a batch of message events adds to the rollups (pure): outcome counts per minute and
 * dimension, and latency histogram counts. The store writes the result in the same transaction
 * as the events (edge/store/libsql/rollups.ts), so the rollups never disagree with the trace.
 *
 * Latencies, from the job's acceptance (`created_at`):
 * - first_attempt: until the first delivery attempt started (attempt 1's result time minus its duration);
 * - accept: until the receiving server accepted the message (`delivered`);
 * - final: until the final disposition (delivered, a synchronous bounce, or failed after the retries).
 */
import { bucketOf } from './histogram.ts';

export const ROLLUP_OUTCOMES = ['delivered', 'deferred', 'bounced', 'failed', 'complained'] as const;
export type RollupOutcome = (typeof ROLLUP_OUTCOMES)[number];
export const LATENCY_METRICS = ['first_attempt', 'accept', 'final'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

/** The event types that move a rollup; the store reads the jobs of these only. */
export const ROLLUP_EVENT_TYPES: ReadonlySet<string> = new Set(ROLLUP_OUTCOMES);

export const MINUTE_MS = 60_000;

/** The job's fixed dimensions (they never change after accept). */
export interface JobDimensions {
  tenantId: string;
  lane: string;
  pool: string;
  provider: string;
  domain: string;
  senderDomain: string;
  createdAt: number;
}

export type Dimensions = Omit<JobDimensions, 'createdAt'>;

export interface CountDelta extends Dimensions {
  minute: number;
  outcome: RollupOutcome;
  replyClass: string;
  enhanced: string;
  code: number;
  count: number;
}

export interface LatencyDelta extends Dimensions {
  minute: number;
  metric: LatencyMetric;
  bucket: number;
  count: number;
}

export interface RollupEvent {
  jobId: string | null;
  type: string;
  at: number;
  data: Record<string, unknown> | null;
}

export interface RollupDeltas {
  counts: CountDelta[];
  latencies: LatencyDelta[];
}

export function minuteOf(at: number): number {
  return Math.floor(at / MINUTE_MS) * MINUTE_MS;
}

export function rollupDeltas(events: readonly RollupEvent[], jobs: ReadonlyMap<string, JobDimensions>): RollupDeltas {
  const counts = new Map<string, CountDelta>();
  const latencies = new Map<string, LatencyDelta>();
  for (const e of events) {
    if (!ROLLUP_EVENT_TYPES.has(e.type) || !e.jobId) continue;
    const job = jobs.get(e.jobId);
    if (!job) continue;
    const { createdAt, ...dims } = job;
    const minute = minuteOf(e.at);
    const data = e.data ?? {};
    const outcome = e.type as RollupOutcome;
    const replyClass = typeof data.class === 'string' ? data.class : '';
    // An async bounce (a DSN) carries its RFC 3464 status where an attempt carries its enhanced code.
    const enhanced = typeof data.enhanced === 'string' ? data.enhanced : typeof data.status === 'string' ? data.status : '';
    const code = typeof data.code === 'number' ? data.code : 0;
    const ck = [minute, ...Object.values(dims), outcome, replyClass, enhanced, code].join('\u0000');
    const c = counts.get(ck);
    if (c) c.count++;
    else counts.set(ck, { minute, ...dims, outcome, replyClass, enhanced, code, count: 1 });

    const add = (metric: LatencyMetric, ms: number) => {
      const bucket = bucketOf(Math.max(0, ms));
      const lk = [minute, ...Object.values(dims), metric, bucket].join('\u0000');
      const l = latencies.get(lk);
      if (l) l.count++;
      else latencies.set(lk, { minute, ...dims, metric, bucket, count: 1 });
    };
    const isAttempt = (outcome === 'delivered' || outcome === 'deferred' || outcome === 'bounced') && typeof data.attempt === 'number' && data.async !== true;
    if (isAttempt && data.attempt === 1) add('first_attempt', e.at - (typeof data.duration_ms === 'number' ? data.duration_ms : 0) - createdAt);
    if (outcome === 'delivered') add('accept', e.at - createdAt);
    if (outcome === 'delivered' || outcome === 'failed' || (outcome === 'bounced' && data.async !== true)) add('final', e.at - createdAt);
  }
  return { counts: [...counts.values()], latencies: [...latencies.values()] };
}
