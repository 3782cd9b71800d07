/**
 * The hub's periodic work (a timer on Node, the Durable Object's alarm on Workers): expire
 * leases no result came back for, move the breakers and warm-up days on with time, offer the
 * work that came due, and now and then note jobs no connected node can take.
 */
import type { HubOptions } from './options.ts';
import type { PolicyEventRecorder } from './policy-events.ts';
import { messageEvent } from '../../shared/events/index.ts';

/** How often queued jobs are checked for a region with no node (a store scan). */
const NOTE_WAITING_EVERY_MS = 5_000;

export class Sweeper {
  private sweeping = false;
  private lastWaitingNote = 0;

  constructor(
    private readonly opts: HubOptions,
    private readonly policyEvents: PolicyEventRecorder,
    /** Regions this hub's own nodes serve, when no `connectedRegions` hook says more. */
    private readonly ownRegions: () => string[],
    private readonly notifyWork: () => void,
    private readonly now: () => number,
  ) {}

  /** Expires leases and offers retries that came due; notes jobs no connected node can take. */
  async tick() {
    // A slow store must not stack sweeps: the next tick finds this one still running and skips.
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.now();
      const { store, metrics, logger, shaper } = this.opts;
      const expired = await store.expireLeases(now);
      if (expired > 0) {
        metrics?.inc('postlane_leases_expired_total', {}, expired);
        logger.warn({ expired }, 'leases expired and were returned to the queue');
      }
      if (shaper) await this.policyEvents.record(shaper.tick(now));
      // Warm-up days roll over here, and the day's counts are written back in one batch.
      if (shaper?.warmup) await this.policyEvents.record(await shaper.warmup.tick(now));
      this.notifyWork();
      if (now - this.lastWaitingNote >= NOTE_WAITING_EVERY_MS) {
        this.lastWaitingNote = now;
        await this.noteUnroutable(now);
      }
    } catch (error) {
      this.opts.logger.error({ err: error }, 'hub tick failed');
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * Test and operator hook (like Shaper.force): ends a warm-up's plan day now, records the
   * day's decisions, and offers the jobs it held to the nodes again.
   */
  async advanceWarmupDay(id: string) {
    const gate = this.opts.shaper?.warmup;
    if (!gate) return [];
    const events = await gate.advanceDay(id, this.now());
    await this.policyEvents.record(events);
    this.notifyWork();
    return events;
  }

  /** Jobs constrained to a region with no connected node wait; their trace says why, once. */
  private async noteUnroutable(now: number) {
    const regions = this.opts.connectedRegions ? await this.opts.connectedRegions() : this.ownRegions();
    const waiting = (await this.opts.store.readyJobsOutside(regions, now, 500)).filter((j) => j.lastClass !== 'no_node_in_region');
    if (waiting.length === 0) return;
    await this.opts.store.applyTransitions(
      waiting.map((j) => ({
        jobId: j.id,
        fromStates: ['queued'],
        set: { lastClass: 'no_node_in_region' },
        events: [messageEvent('waiting', { messageId: j.messageId, jobId: j.id, at: now, data: { reason: `no MTA node is connected in region ${j.region}; the job stays queued until one is`, region: j.region! } })],
      })),
    );
  }
}
