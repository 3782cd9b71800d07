/**
 * Turns a node's credits into leases: claim ready jobs for its region and pools (lane quotas and
 * exclusions from the shaper), let the shaper admit them and pick source IPs, requeue what it
 * held, and send the rest as one lease frame with their bodies and any DKIM keys the node lacks.
 * One dispatch runs per session at a time; a pull or wake-up meanwhile asks for another round.
 */
import { PROTOCOL_VERSION } from '../../shared/protocol.ts';
import { verpAddress } from '../../shared/verp.ts';
import { messageEvent } from '../../shared/events/index.ts';
import type { Demand } from '../../shared/policy/scheduler.ts';
import type { ClaimedJob } from '../ports/store.ts';
import type { DkimKeys } from './dkim-keys.ts';
import type { HoldBack } from './hold-back.ts';
import type { Refusal } from './shaping/policy-event.ts';
import type { HubOptions } from './options.ts';
import type { ReadySession, Session, Sessions } from './sessions.ts';
import { leasingView, type LeasingView } from './source-ips.ts';

/** How long one backlog read steers the lane quotas of every claim. */
const DEMAND_CACHE_MS = 500;
/** A claim the shaper failed on goes back to the queue for this long. */
const SHAPING_ERROR_RETRY_MS = 60_000;

type LeasedJob = ClaimedJob & { sourceIp: string | null };

export class Dispatcher {
  private demand: { at: number; rows: Demand[] } | null = null;

  constructor(
    private readonly opts: HubOptions,
    private readonly sessions: Sessions,
    private readonly keys: DkimKeys,
    private readonly held: HoldBack,
    private readonly now: () => number,
  ) {}

  async dispatch(s: Session) {
    if (s.dispatching) {
      s.dispatchAgain = true;
      return;
    }
    s.dispatching = true;
    try {
      do {
        s.dispatchAgain = false;
        if (!(await this.round(s))) break;
      } while (s.dispatchAgain);
    } catch (error) {
      this.opts.logger.error({ err: error, session: s.id }, 'lease dispatch failed');
    } finally {
      s.dispatching = false;
    }
  }

  /**
   * One claim → shape → lease round. False: nothing more to do now (no credits, nothing ready,
   * or the socket closed), even if another round was asked for meanwhile; true: another round
   * runs if one was asked for.
   */
  private async round(s: Session): Promise<boolean> {
    if (!s.hello || s.credits <= 0 || !this.sessions.isOpen(s)) return false;
    const ready = s as ReadySession;
    const now = this.now();
    // The operator's registry, read each round: a draining IP stops taking leases at once.
    const [registry, pools, token] = await Promise.all([this.opts.store.listSourceIps(), this.opts.store.listPools(), this.opts.store.getNodeToken(s.token.id)]);
    // A token revoked since the node connected leases nothing more: the session ends (4003).
    if (!token || (token.revokedAt !== null && token.revokedAt <= now)) {
      this.opts.logger.warn({ node: ready.hello.nodeId, token: s.token.id, session: s.id }, 'node token revoked; closing the session');
      this.sessions.send(s, { type: 'error', v: PROTOCOL_VERSION, code: 'unauthorized', message: 'this node token was revoked', fatal: true });
      s.conn.close(4003, 'node token revoked');
      return false;
    }
    const view = leasingView(s.ips, s.token.id, registry, pools);
    const claimed = await this.claim(ready, view, now);
    if (claimed.length === 0) return false;
    const ipsByPool = new Map<string, string[]>();
    for (const ip of view.ips) ipsByPool.set(ip.pool, [...(ipsByPool.get(ip.pool) ?? []), ip.address]);
    const shaper = this.opts.shaper;
    const admitted = shaper ? await this.admit(claimed, ipsByPool, now) : { granted: claimed.map((job) => ({ job, sourceIp: null })), refused: [] };
    if (admitted.refused.length) await this.requeue(admitted.refused, now);
    let turn = 0;
    const pick = (pool: string) => {
      const ips = ipsByPool.get(pool) ?? [];
      return ips.length ? ips[turn++ % ips.length] : null;
    };
    const jobs = admitted.granted.map((g) => ({ ...g.job, sourceIp: g.sourceIp ?? (view.pickIps ? pick(g.job.pool) : null) }));
    // All held: another round only if more work was signalled meanwhile.
    if (jobs.length === 0) return admitted.refused.length > 0;
    await this.lease(ready, jobs, ipsByPool, now);
    return true;
  }

  /**
   * The shaper's decision. The Admission isolates a job's or a group's failure itself; should the
   * whole call fail, the claim goes back to the queue rather than staying leased to no one until
   * its leases expire.
   */
  private async admit(claimed: ClaimedJob[], ipsByPool: Map<string, string[]>, now: number): Promise<{ granted: Array<{ job: ClaimedJob; sourceIp: string | null }>; refused: Refusal[] }> {
    try {
      return await this.opts.shaper!.admit(claimed, ipsByPool, now);
    } catch (error) {
      this.opts.logger.error({ err: error, jobs: claimed.length }, 'shaping failed; the claimed jobs go back to the queue');
      const reason = `shaping failed, tried again shortly: ${(error as Error)?.message ?? String(error)}`;
      return { granted: [], refused: claimed.map((job) => ({ job, retryAt: now + SHAPING_ERROR_RETRY_MS, limit: 'shaping_error', reason })) };
    }
  }

  /** Held jobs back to the queue; a hold that cannot be recorded as asked is retried plainly. */
  private async requeue(refused: Refusal[], now: number) {
    try {
      await this.held.requeue(refused, now);
    } catch (error) {
      this.opts.logger.error({ err: error, jobs: refused.length }, 'requeue of held jobs failed; retried with a plain delay');
      await this.held.requeue(refused.map((r) => ({ ...r, retryAt: now + SHAPING_ERROR_RETRY_MS, limit: 'shaping_error', reason: 'held; its hold could not be recorded' })), now);
    }
  }

  private async claim(s: ReadySession, view: LeasingView, now: number): Promise<ClaimedJob[]> {
    const shaper = this.opts.shaper;
    return this.opts.store.claimJobs({
      nodeId: s.hello.nodeId,
      region: s.hello.region,
      pools: view.pools,
      poolOwners: view.owners,
      limit: s.credits,
      now,
      leaseTtlMs: this.opts.leaseTtlMs,
      laneQuotas: shaper ? shaper.quotas(s.credits, await this.currentDemand(now)) : undefined,
      exclude: shaper?.excluded(now),
    });
  }

  /** Spends the credits, sends the lease frame and writes each job's `leased` event. */
  private async lease(s: ReadySession, jobs: LeasedJob[], ipsByPool: Map<string, string[]>, now: number) {
    s.credits -= jobs.length;
    s.leased += jobs.length;
    this.rememberLeases(s, jobs, now);
    const bodies = await this.opts.store.messageBodies([...new Set(jobs.map((j) => j.messageId))]);
    const keys = await this.keys.keysFor(s.keysSent, jobs.map((j) => ({ tenantId: j.tenantId, domain: j.dkimDomain, keyId: j.dkimKeyId })));
    this.sessions.send(s, {
      type: 'lease',
      v: PROTOCOL_VERSION,
      jobs: jobs.map((j) => ({
        jobId: j.id,
        leaseId: j.leaseId!,
        dedupKey: j.dedupKey,
        messageId: j.messageId,
        recipient: j.recipient,
        domain: j.domain,
        envelopeFrom: verpAddress(j.id, j.returnPathDomain ?? j.domain),
        pool: j.pool,
        sourceIp: j.sourceIp,
        provider: j.provider,
        lane: j.lane,
        attempt: j.attempts,
        dkimDomain: j.dkimDomain,
        dkimKeyId: j.dkimKeyId,
        requireTls: false,
        leaseExpiresAt: j.leaseExpiresAt!,
      })),
      messages: bodies.map((b) => ({ messageId: b.id, raw: b.raw })),
      keys,
    });
    this.opts.metrics?.inc('postlane_leases_granted_total', { region: s.hello.region }, jobs.length);
    await this.opts.store.appendEvents(
      jobs.map((j) =>
        messageEvent('leased', {
          messageId: j.messageId,
          jobId: j.id,
          at: now,
          data: { node: s.hello.nodeId, region: s.hello.region, pool: j.pool, ip: j.sourceIp ?? undefined, ips: j.sourceIp ? undefined : ipsByPool.get(j.pool) ?? [], provider: j.provider, attempt: j.attempts, lease_expires_at: new Date(j.leaseExpiresAt!).toISOString() },
        }),
      ),
    );
  }

  private rememberLeases(s: ReadySession, jobs: LeasedJob[], now: number) {
    // Leases that expired without a result are never reported; drop them before they pile up.
    if (s.leasedJobs.size > 2 * s.hello.capacity + jobs.length) {
      for (const [id, job] of s.leasedJobs) if ((job.leaseExpiresAt ?? 0) < now) s.leasedJobs.delete(id);
    }
    for (const job of jobs) s.leasedJobs.set(job.id, job);
  }

  private async currentDemand(now: number): Promise<Demand[]> {
    if (!this.demand || now - this.demand.at > DEMAND_CACHE_MS) {
      const rows = await this.opts.store.backlog(null);
      this.demand = { at: now, rows: rows.map((r) => ({ lane: r.lane as Demand['lane'], tenantId: r.tenantId, queued: r.queued })) };
    }
    return this.demand.rows;
  }
}
