/**
 * Jobs the shaper held back go back to the queue with the limit that held them in their trace.
 * A job is claimed and held again each pass while its limit lasts, so the trace records a hold
 * only when the limit changes: this remembers, per job, the limit it was last held by.
 */
import type { Store } from '../ports/store.ts';
import type { Refusal } from './shaping/policy-event.ts';
import { messageEvent } from '../../shared/events/index.ts';

/** Bound on remembered jobs: past it, the oldest are forgotten (at worst, one repeated event). */
const LAST_HOLD_MAX = 100_000;

export class HoldBack {
  private readonly lastHold = new Map<string, string>();

  constructor(private readonly store: Pick<Store, 'requeueHeld'>) {}

  async requeue(refused: Refusal[], now: number) {
    await this.store.requeueHeld(
      refused.map((r) => {
        // A job held again by the same limit adds nothing to its trace; a new limit does.
        const news = this.lastHold.get(r.job.id) !== r.limit;
        this.lastHold.delete(r.job.id);
        this.lastHold.set(r.job.id, r.limit);
        return {
          jobId: r.job.id,
          nextAttemptAt: r.retryAt,
          // 'warmup' marks jobs a warm-up held, so a new plan day or a stopped warm-up can release them.
          lastClass: r.limit.startsWith('warmup:') ? ('warmup' as const) : ('shaped' as const),
          ...(news ? { event: messageEvent('throttled', { messageId: r.job.messageId, jobId: r.job.id, at: now, data: { limit: r.limit, reason: r.reason, next_attempt_at: new Date(r.retryAt).toISOString() } }) } : {}),
        };
      }),
      now,
    );
    // Insertion order is age order: forget the oldest beyond the bound.
    for (const id of this.lastHold.keys()) {
      if (this.lastHold.size <= LAST_HOLD_MAX) break;
      this.lastHold.delete(id);
    }
  }

  /** A job reported a result: its next hold, if any, is news. */
  forget(jobId: string) {
    this.lastHold.delete(jobId);
  }
}
