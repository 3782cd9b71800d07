/**
 * A node's `results` frame: each result becomes its job's state change (./transitions.ts), all
 * applied in one guarded batch; the shaper learns from the ones that applied, and every reported
 * job is acknowledged so the node's journal may forget it.
 *
 * A result applies only to the lease it answers: the job is `leased` under the result's lease id
 * to the reporting node (the guard is in the store's update, so a stale or forged result loses to
 * the honest one), or, for a node's journaled result after its lease expired, the job is still
 * queued with that lease's `lease_expired` as its last lease event (nobody leased it since).
 * Anything else is refused: logged, counted (`postlane_hub_results_refused_total{reason}`) and
 * acknowledged anyway, since nothing the node could resend would ever apply and an unacked result
 * would be resent from its journal on every reconnect.
 */
import { PROTOCOL_VERSION, type DeliveryResult } from '../../shared/protocol.ts';
import type { DeliveryJobRecord } from '../domain/records.ts';
import type { JobTransition } from '../ports/store.ts';
import type { HoldBack } from './hold-back.ts';
import type { HubOptions } from './options.ts';
import type { PolicyEventRecorder } from './policy-events.ts';
import type { ReadySession, Sessions } from './sessions.ts';
import { classifyResult, transitionForResult } from './transitions.ts';

type Guard = Pick<JobTransition, 'fromStates' | 'match'>;
type RefusalReason = 'unknown_job' | 'not_lease_holder' | 'stale';

/** The trace events that start or end a lease; the last one tells whose lease a queued job last had. */
const LEASE_EVENTS = ['leased', 'lease_expired', 'deferred', 'delivered', 'bounced', 'failed'];

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
    const nodeId = s.hello.nodeId;
    const jobs = await this.jobsOf(s, results);
    const ctx = { now, nodeId, random: this.opts.random, retryOverride: this.opts.retryOverride };
    const transition = (job: DeliveryJobRecord, r: DeliveryResult, guard: Guard) => {
      const classification = classifyResult(job, r, this.opts.classifier);
      return { r, job, classification, t: { ...transitionForResult(job, r, ctx, classification), ...guard } };
    };

    // Results for a live lease of this node: guarded on the lease itself.
    const live = results.flatMap((r) => {
      const job = jobs.get(r.jobId);
      return job && this.holdsLease(s, job, r) ? [transition(job, r, { fromStates: ['leased'], match: { leaseId: r.leaseId, leaseOwner: nodeId } })] : [];
    });
    const applied = new Set(live.length ? await this.opts.store.applyTransitions(live.map((k) => k.t)) : []);

    // The rest: a journaled result whose lease expired unreported may still apply, read afresh.
    const rest = results.filter((r) => !applied.has(r.jobId));
    const expired: typeof live = [];
    if (rest.length) {
      const fresh = new Map((await this.opts.store.jobsByIds(rest.map((r) => r.jobId))).map((j) => [j.id, j]));
      for (const r of rest) {
        const job = fresh.get(r.jobId);
        if (!job) {
          jobs.delete(r.jobId);
          continue;
        }
        jobs.set(r.jobId, job);
        if (await this.expiredLeaseOf(s, job, r)) {
          // Pinned to the row as read: if anything leased or changed the job since, this loses.
          expired.push(transition(job, r, { fromStates: ['queued'], match: { leaseId: null, leaseOwner: null, attempts: job.attempts, updatedAt: job.updatedAt } }));
        }
      }
      if (expired.length) for (const id of await this.opts.store.applyTransitions(expired.map((k) => k.t))) applied.add(id);
    }

    const refused = results.filter((r) => !applied.has(r.jobId));
    if (refused.length) this.refuse(s, refused, jobs);

    const shaper = this.opts.shaper;
    if (shaper) {
      // Journal replays were observed when first reported; a stale result changed nothing.
      const policyEvents = [...live, ...expired].flatMap(({ r, job, classification }) => {
        if (!applied.has(r.jobId) || r.fromJournal) return [];
        return shaper.observe(job, r.outcome, r.outcome === 'delivered' ? null : classification, r.sourceIp, now, r.reply);
      });
      await this.policyEvents.record(policyEvents);
    }
    for (const r of results) {
      this.opts.metrics?.inc('postlane_delivery_results_total', { outcome: r.outcome });
      this.held.forget(r.jobId);
    }
    s.leased = Math.max(0, s.leased - results.length);
    // Acknowledge every reported job, applied or refused: the node's journal may forget them now.
    this.sessions.send(s, { type: 'ack', v: PROTOCOL_VERSION, jobIds: results.map((r) => r.jobId) });
  }

  /** The job is leased under the result's lease id to this session's node, in its token's region. */
  private holdsLease(s: ReadySession, job: DeliveryJobRecord, r: DeliveryResult): boolean {
    return job.state === 'leased' && job.leaseId === r.leaseId && job.leaseOwner === s.hello.nodeId && (job.region === null || job.region === s.token.region);
  }

  /** The job is queued and the last lease it had is the result's, this node's, expired unreported. */
  private async expiredLeaseOf(s: ReadySession, job: DeliveryJobRecord, r: DeliveryResult): Promise<boolean> {
    if (job.state !== 'queued' || job.leaseId !== null || (job.region !== null && job.region !== s.token.region)) return false;
    const events = await this.opts.store.jobEvents(job.messageId, job.id, LEASE_EVENTS);
    const last = events.at(-1);
    const data = (last?.data ?? {}) as { lease_id?: unknown; node?: unknown };
    return last?.type === 'lease_expired' && data.lease_id === r.leaseId && data.node === s.hello.nodeId;
  }

  private refuse(s: ReadySession, refused: DeliveryResult[], jobs: Map<string, DeliveryJobRecord>) {
    const byReason = new Map<RefusalReason, string[]>();
    for (const r of refused) {
      const job = jobs.get(r.jobId);
      // Lease ids are `<node id>:<claimed at>:<job id>` (the store's claim): one this node was
      // granted and lost (expired and leased again, already finished) is stale, not forged.
      const reason: RefusalReason = !job ? 'unknown_job' : r.leaseId.startsWith(`${s.hello.nodeId}:`) && r.leaseId.endsWith(`:${r.jobId}`) ? 'stale' : 'not_lease_holder';
      const list = byReason.get(reason);
      if (list) list.push(r.jobId);
      else byReason.set(reason, [r.jobId]);
    }
    for (const [reason, jobIds] of byReason) {
      this.opts.metrics?.inc('postlane_hub_results_refused_total', { reason }, jobIds.length);
      const log = reason === 'stale' ? this.opts.logger.info.bind(this.opts.logger) : this.opts.logger.warn.bind(this.opts.logger);
      log({ node: s.hello.nodeId, token: s.token.id, session: s.id, reason, jobIds: jobIds.slice(0, 50), count: jobIds.length }, 'delivery results refused: not for a live lease of this node');
    }
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
