/**
 * A node's `results` frame: each result becomes its job's state change (./transitions.ts), all
 * applied in one guarded batch; the shaper learns from the ones that applied, and every reported
 * job is acknowledged so the node's journal may forget it.
 */
import { PROTOCOL_VERSION, type DeliveryResult } from '../../shared/protocol.ts';
import type { DeliveryJobRecord } from '../domain/records.ts';
import type { HoldBack } from './hold-back.ts';
import type { HubOptions } from './options.ts';
import type { PolicyEventRecorder } from './policy-events.ts';
import type { ReadySession, Sessions } from './sessions.ts';
import { classifyResult, transitionForResult } from './transitions.ts';

export class ResultHandler {
  constructor(
    private readonly opts: HubOptions,
    private readonly sessions: Sessions,
    private readonly policyEvents: PolicyEventRecorder,
    private readonly held: HoldBack,
    private readonly now: () => number,
  ) {}

  async onResults(s: ReadySession, results: DeliveryResult[]) {
    const now = this.now();
    const jobs = await this.jobsOf(s, results);
    const known = results.flatMap((r) => {
      const job = jobs.get(r.jobId);
      return job ? [{ r, job, classification: classifyResult(job, r) }] : [];
    });
    const ctx = { now, nodeId: s.hello.nodeId, random: this.opts.random, retryOverride: this.opts.retryOverride };
    const applied = new Set(await this.opts.store.applyTransitions(known.map((k) => transitionForResult(k.job, k.r, ctx, k.classification))));
    const shaper = this.opts.shaper;
    if (shaper) {
      // Journal replays were observed when first reported; a stale result changed nothing.
      const policyEvents = known.flatMap(({ r, job, classification }) => {
        if (!applied.has(r.jobId) || r.fromJournal) return [];
        return shaper.observe(job, r.outcome, r.outcome === 'delivered' ? null : classification, r.sourceIp, now);
      });
      await this.policyEvents.record(policyEvents);
    }
    for (const r of results) {
      this.opts.metrics?.inc('postlane_delivery_results_total', { outcome: r.outcome });
      this.held.forget(r.jobId);
    }
    s.leased = Math.max(0, s.leased - results.length);
    // Acknowledge every reported job, applied or stale: the node's journal may forget them now.
    this.sessions.send(s, { type: 'ack', v: PROTOCOL_VERSION, jobIds: results.map((r) => r.jobId) });
  }

  /** The reported jobs as leased on this session, else as the store has them. */
  private async jobsOf(s: ReadySession, results: DeliveryResult[]): Promise<Map<string, DeliveryJobRecord>> {
    const jobs = new Map<string, DeliveryJobRecord>();
    for (const r of results) {
      const job = s.leasedJobs.get(r.jobId);
      s.leasedJobs.delete(r.jobId);
      if (job?.leaseId === r.leaseId) jobs.set(r.jobId, job);
    }
    const unknown = results.filter((r) => !jobs.has(r.jobId)).map((r) => r.jobId);
    if (unknown.length) for (const j of await this.opts.store.jobsByIds(unknown)) jobs.set(j.id, j);
    return jobs;
  }
}
