/**
 * The lease hub: holds the connected MTA nodes of one deployment (Node) or one region (a Durable
 * Object), grants leases against their credits, extends them on heartbeat, expires them, and
 * commits results. It knows no runtime: adapters hand it a `NodeConnection` per socket and feed
 * it frames. Split by concern: sessions here, the claim query in the store, result transitions
 * in ./transitions.ts.
 */
import {
  encodeFrame,
  parseNodeFrame,
  PROTOCOL_VERSION,
  type DeliveryResult,
  type DkimKey,
  type HubToNode,
  type NodeHello,
  type SourceIp,
} from '../../shared/protocol.ts';
import { verpAddress } from '../../shared/verp.ts';
import { newId } from '../../shared/ids.ts';
import type { FeedbackSignal, Logger, NodeSummary, NodeTokenRecord, Secrets, Store } from '../ports.ts';
import type { DeliveryJobRow } from '../store/schema.ts';
import type { Metrics } from '../metrics.ts';
import { classifyResult, transitionForResult, type TransitionContext } from './transitions.ts';
import type { Shaper, PolicyEvent, Refusal } from './shaping.ts';
import type { Demand } from '../../shared/policy/scheduler.ts';

export interface NodeConnection {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface HubOptions {
  store: Store;
  secrets: Secrets;
  logger: Logger;
  metrics?: Metrics;
  leaseTtlMs: number;
  heartbeatMs: number;
  now?: () => number;
  random?: () => number;
  retryOverride?: TransitionContext['retryOverride'];
  /**
   * Regions with a connected node anywhere. Defaults to this hub's own sessions; a hub that
   * serves one region of several (a Durable Object per region) asks its peers.
   */
  connectedRegions?: () => Promise<string[]>;
  /** Reputation-aware shaping; without it every ready job is leased as fast as nodes pull. */
  shaper?: Shaper;
}

interface Session {
  id: string;
  conn: NodeConnection;
  token: NodeTokenRecord;
  hello: NodeHello | null;
  ips: SourceIp[];
  pools: string[];
  credits: number;
  /** Signing keys already sent on this connection, by domain. */
  keysSent: Set<string>;
  leased: number;
  /**
   * The rows of the jobs leased on this connection, as the claim returned them, so their
   * results need no read of the jobs back. A result for a lease not found here (sent after a
   * reconnect or a hub restart) is read from the store.
   */
  leasedJobs: Map<string, DeliveryJobRow>;
  connectedAt: number;
  dispatching: boolean;
  dispatchAgain: boolean;
}

const KEY_CACHE_MS = 5 * 60_000;

export function ipAllowed(address: string, allowed: string[]): boolean {
  return allowed.includes('*') || allowed.includes(address);
}

export class LeaseHub {
  private readonly sessions = new Map<NodeConnection, Session>();
  private readonly keyCache = new Map<string, { key: DkimKey; at: number }>();
  private readonly now: () => number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private sweeping = false;
  private readonly noteWaitingEvery = 5_000;
  private lastWaitingNote = 0;
  private demand: { at: number; rows: Demand[] } | null = null;
  private static readonly DEMAND_CACHE_MS = 500;
  private static readonly LAST_HOLD_MAX = 100_000;
  /** The limit each held job was last held by: its trace records a hold only when that changes. */
  private readonly lastHold = new Map<string, string>();

  constructor(private readonly opts: HubOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Starts the timers that expire leases and pick up retries whose time has come. */
  start(tickMs = 250) {
    this.timers.push(setInterval(() => void this.tick(), tickMs));
  }

  /** Picks up the shaping state (breakers, rates, suspensions) the last run left, from its events. */
  async restoreShaping(lookbackMs = 24 * 3600_000) {
    if (!this.opts.shaper) return;
    const now = this.now();
    this.opts.shaper.restore(await this.opts.store.listPolicyEvents(now - lookbackMs, 10_000), now);
  }

  stop() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const conn of this.sessions.keys()) conn.close(1001, 'hub stopping');
    this.sessions.clear();
  }

  /** A node's socket is open and its token checked; it must say hello next. */
  open(conn: NodeConnection, token: NodeTokenRecord) {
    this.sessions.set(conn, {
      id: newId('sess'),
      conn,
      token,
      hello: null,
      ips: [],
      pools: [],
      credits: 0,
      keysSent: new Set(),
      leased: 0,
      leasedJobs: new Map(),
      connectedAt: this.now(),
      dispatching: false,
      dispatchAgain: false,
    });
  }

  closed(conn: NodeConnection) {
    const s = this.sessions.get(conn);
    if (s) this.opts.logger.info({ node: s.hello?.nodeId, session: s.id }, 'node disconnected');
    this.sessions.delete(conn);
    // Its leases stay until they expire or the node reconnects and reports them.
  }

  async message(conn: NodeConnection, data: string) {
    const session = this.sessions.get(conn);
    if (!session) return;
    const parsed = parseNodeFrame(data);
    if (!parsed.ok) {
      this.opts.logger.warn({ session: session.id, error: parsed.error }, 'bad frame from node');
      this.opts.metrics?.inc('postlane_hub_bad_frames_total');
      this.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'bad_frame', message: parsed.error, fatal: false });
      return;
    }
    const frame = parsed.frame;
    try {
      if (frame.type === 'hello') return await this.onHello(session, frame);
      if (!session.hello) {
        this.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'not_ready', message: 'send hello first', fatal: false });
        return;
      }
      if (frame.type === 'pull') {
        // Credits add up: each pull asks for that many more jobs than earlier pulls left unfilled.
        session.credits = Math.min(session.credits + frame.credits, session.hello.capacity);
        await this.dispatch(session);
      } else if (frame.type === 'heartbeat') {
        if (frame.leaseIds.length) await this.opts.store.extendLeases(session.hello.nodeId, frame.leaseIds, this.now() + this.opts.leaseTtlMs);
      } else if (frame.type === 'results') {
        await this.onResults(session, frame.results);
      }
    } catch (error) {
      this.opts.logger.error({ err: error, session: session.id, frame: frame.type }, 'hub failed to handle frame');
      this.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'internal', message: 'the hub could not process the frame; it will be retried', fatal: false });
    }
  }

  /** New work is committed somewhere: offer it to nodes holding credits. */
  notifyWork() {
    for (const s of this.sessions.values()) if (s.credits > 0) void this.dispatch(s);
  }

  summaries(): NodeSummary[] {
    return [...this.sessions.values()]
      .filter((s) => s.hello)
      .map((s) => ({
        nodeId: s.hello!.nodeId,
        region: s.hello!.region,
        version: s.hello!.version,
        ips: s.ips,
        credits: s.credits,
        leased: s.leased,
        connectedAt: s.connectedAt,
      }));
  }

  private send(s: Session, frame: HubToNode) {
    try {
      s.conn.send(encodeFrame(frame));
    } catch (error) {
      this.opts.logger.warn({ err: error, session: s.id }, 'send to node failed');
    }
  }

  private async onHello(s: Session, hello: NodeHello) {
    // A node may only use IPs registered to its token (SPEC §3), and only in its token's region.
    if (hello.region !== s.token.region) {
      this.send(s, { type: 'error', v: PROTOCOL_VERSION, code: 'unauthorized', message: `token is for region ${s.token.region}, node said ${hello.region}`, fatal: true });
      s.conn.close(4003, 'region mismatch');
      return;
    }
    const accepted = hello.ips.filter((ip) => ipAllowed(ip.address, s.token.allowedIps));
    if (accepted.length === 0) {
      this.send(s, { type: 'error', v: PROTOCOL_VERSION, code: 'ip_not_allowed', message: `none of ${hello.ips.map((i) => i.address).join(', ')} is registered to this node token`, fatal: true });
      s.conn.close(4003, 'no allowed IP');
      return;
    }
    s.hello = hello;
    s.ips = accepted;
    s.pools = [...new Set(accepted.map((ip) => ip.pool))];
    const now = this.now();
    await this.opts.store.upsertNode({ id: hello.nodeId, region: hello.region, version: hello.version, ips: accepted, capacity: hello.capacity, now });
    for (const pool of s.pools) await this.opts.store.ensurePool(pool, null, now);
    this.opts.logger.info({ node: hello.nodeId, region: hello.region, ips: accepted.map((i) => i.address), session: s.id }, 'node connected');
    this.send(s, { type: 'welcome', v: PROTOCOL_VERSION, sessionId: s.id, leaseTtlMs: this.opts.leaseTtlMs, heartbeatMs: this.opts.heartbeatMs, acceptedIps: accepted, ...(this.opts.shaper ? { providerLimits: this.opts.shaper.connectionLimits() } : {}) });
  }

  private async onResults(s: Session, results: DeliveryResult[]) {
    const now = this.now();
    const jobs = new Map<string, DeliveryJobRow>();
    for (const r of results) {
      const job = s.leasedJobs.get(r.jobId);
      s.leasedJobs.delete(r.jobId);
      if (job?.leaseId === r.leaseId) jobs.set(r.jobId, job);
    }
    const unknown = results.filter((r) => !jobs.has(r.jobId)).map((r) => r.jobId);
    if (unknown.length) for (const j of await this.opts.store.jobsByIds(unknown)) jobs.set(j.id, j);
    const known = results.flatMap((r) => {
      const job = jobs.get(r.jobId);
      return job ? [{ r, job, classification: classifyResult(job, r) }] : [];
    });
    const ctx = { now, nodeId: s.hello!.nodeId, random: this.opts.random, retryOverride: this.opts.retryOverride };
    const applied = new Set(await this.opts.store.applyTransitions(known.map((k) => transitionForResult(k.job, k.r, ctx, k.classification))));
    if (this.opts.shaper) {
      const policyEvents = known.flatMap(({ r, job, classification }) => {
        if (!applied.has(r.jobId) || r.fromJournal) return [];
        return this.opts.shaper!.observe(job, r.outcome, r.outcome === 'delivered' ? null : classification, r.sourceIp, now);
      });
      await this.recordPolicyEvents(policyEvents);
    }
    for (const r of results) {
      this.opts.metrics?.inc('postlane_delivery_results_total', { outcome: r.outcome });
      this.lastHold.delete(r.jobId);
    }
    s.leased = Math.max(0, s.leased - results.length);
    // Acknowledge every reported job, applied or stale: the node's journal may forget them now.
    this.send(s, { type: 'ack', v: PROTOCOL_VERSION, jobIds: results.map((r) => r.jobId) });
  }

  private rememberLeases(s: Session, jobs: DeliveryJobRow[], now: number) {
    // Leases that expired without a result are never reported; drop them before they pile up.
    if (s.leasedJobs.size > 2 * (s.hello?.capacity ?? 0) + jobs.length) {
      for (const [id, job] of s.leasedJobs) if ((job.leaseExpiresAt ?? 0) < now) s.leasedJobs.delete(id);
    }
    for (const job of jobs) s.leasedJobs.set(job.id, job);
  }

  private async dispatch(s: Session) {
    if (s.dispatching) {
      s.dispatchAgain = true;
      return;
    }
    s.dispatching = true;
    try {
      do {
        s.dispatchAgain = false;
        if (!s.hello || s.credits <= 0 || !this.sessions.has(s.conn)) break;
        const now = this.now();
        const shaper = this.opts.shaper;
        const claimed = await this.opts.store.claimJobs({
          nodeId: s.hello.nodeId,
          region: s.hello.region,
          pools: s.pools,
          limit: s.credits,
          now,
          leaseTtlMs: this.opts.leaseTtlMs,
          laneQuotas: shaper ? shaper.quotas(s.credits, await this.currentDemand(now)) : undefined,
          exclude: shaper?.excluded(now),
        });
        if (claimed.length === 0) break;
        const ipsByPool = new Map<string, string[]>();
        for (const ip of s.ips) ipsByPool.set(ip.pool, [...(ipsByPool.get(ip.pool) ?? []), ip.address]);
        const admitted = shaper
          ? await shaper.admit(claimed, ipsByPool, now)
          : { granted: claimed.map((job) => ({ job, sourceIp: null })), refused: [] };
        if (admitted.refused.length) await this.holdBack(admitted.refused, now);
        const jobs = admitted.granted.map((g) => ({ ...g.job, sourceIp: g.sourceIp }));
        if (jobs.length === 0) {
          if (admitted.refused.length) continue;
          break;
        }
        s.credits -= jobs.length;
        s.leased += jobs.length;
        this.rememberLeases(s, jobs, now);
        const bodies = await this.opts.store.messageBodies([...new Set(jobs.map((j) => j.messageId))]);
        const keys = await this.keysFor(s, jobs.map((j) => ({ tenantId: j.tenantId, domain: j.dkimDomain })));
        this.send(s, {
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
            requireTls: false,
            leaseExpiresAt: j.leaseExpiresAt!,
          })),
          messages: bodies.map((b) => ({ messageId: b.id, raw: b.raw })),
          keys,
        });
        this.opts.metrics?.inc('postlane_leases_granted_total', { region: s.hello.region }, jobs.length);
        await this.opts.store.appendEvents(
          jobs.map((j) => ({
            messageId: j.messageId,
            jobId: j.id,
            type: 'leased',
            at: now,
            data: { node: s.hello!.nodeId, region: s.hello!.region, pool: j.pool, ip: j.sourceIp ?? undefined, ips: j.sourceIp ? undefined : ipsByPool.get(j.pool) ?? [], provider: j.provider, attempt: j.attempts, lease_expires_at: new Date(j.leaseExpiresAt!).toISOString() },
          })),
        );
      } while (s.dispatchAgain);
    } catch (error) {
      this.opts.logger.error({ err: error, session: s.id }, 'lease dispatch failed');
    } finally {
      s.dispatching = false;
    }
  }

  /** Jobs the shaper held back go back to the queue with the limit that held them in their trace. */
  private async holdBack(refused: Refusal[], now: number) {
    await this.opts.store.requeueHeld(
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
          ...(news ? { event: { messageId: r.job.messageId, jobId: r.job.id, type: 'throttled', at: now, data: { limit: r.limit, reason: r.reason, next_attempt_at: new Date(r.retryAt).toISOString() } } } : {}),
        };
      }),
      now,
    );
    // Insertion order is age order: forget the oldest beyond the bound (at worst, one repeated event).
    for (const id of this.lastHold.keys()) {
      if (this.lastHold.size <= LeaseHub.LAST_HOLD_MAX) break;
      this.lastHold.delete(id);
    }
  }

  private async currentDemand(now: number): Promise<Demand[]> {
    if (!this.demand || now - this.demand.at > LeaseHub.DEMAND_CACHE_MS) {
      const rows = await this.opts.store.backlog(null);
      this.demand = { at: now, rows: rows.map((r) => ({ lane: r.lane as Demand['lane'], tenantId: r.tenantId, queued: r.queued })) };
    }
    return this.demand.rows;
  }

  /**
   * A complaint (ARF) or a late bounce (DSN) for a job, from the feedback intake: fed to the
   * shaper's breakers, and what changed is stored like the effects of delivery results.
   */
  async feedback(signal: FeedbackSignal) {
    const shaper = this.opts.shaper;
    if (!shaper) return;
    const events = signal.kind === 'complaint' ? shaper.complaint(signal.job, signal.at, signal.outreach) : shaper.bounce(signal.job, signal.at);
    this.opts.metrics?.inc('postlane_feedback_signals_total', { kind: signal.kind });
    await this.recordPolicyEvents(events);
  }

  private async recordPolicyEvents(events: PolicyEvent[]) {
    if (events.length === 0) return;
    for (const e of events) this.opts.logger.info({ scope: e.scope, key: e.key, from: e.from, to: e.to, reason: e.reason }, `policy ${e.type} change`);
    await this.opts.store.appendPolicyEvents(events.map((e) => ({ scope: e.scope, key: e.key, type: e.type, fromState: e.from, toState: e.to, reason: e.reason, at: e.at, data: e.data })));
    // Jobs held while a breaker slowed their pool or domain were spaced at that slow pace; once it
    // closes they are due now, not minutes from now behind mail queued after them.
    const closed = events.filter((e) => e.type === 'breaker' && e.to === 'closed' && (e.scope === 'pool' || e.scope === 'domain'));
    for (const e of closed) {
      const released = await this.opts.store.releaseHeld(e.scope === 'pool' ? { lastClass: 'shaped', pool: e.key } : { lastClass: 'shaped', senderDomain: e.key }, this.now());
      if (released > 0) this.opts.logger.info({ scope: e.scope, key: e.key, released }, 'breaker closed: held jobs released');
    }
    if (closed.length) this.notifyWork();
  }

  private async keysFor(s: Session, wanted: Array<{ tenantId: string; domain: string | null }>): Promise<DkimKey[]> {
    const missing = new Map<string, { tenantId: string; domain: string }>();
    for (const w of wanted) if (w.domain && !s.keysSent.has(w.domain)) missing.set(`${w.tenantId}\n${w.domain}`, { tenantId: w.tenantId, domain: w.domain });
    if (missing.size === 0) return [];
    const out: DkimKey[] = [];
    const now = this.now();
    const toLoad = [...missing.entries()].filter(([k]) => {
      const cached = this.keyCache.get(k);
      if (cached && now - cached.at < KEY_CACHE_MS) {
        out.push(cached.key);
        return false;
      }
      return true;
    });
    if (toLoad.length) {
      for (const rec of await this.opts.store.signingKeys(toLoad.map(([, v]) => v))) {
        const key: DkimKey = { domain: rec.domain, selector: rec.selector, algorithm: rec.algorithm, privateKeyPem: await this.opts.secrets.open(rec.privateKeyEnc) };
        this.keyCache.set(`${rec.tenantId}\n${rec.domain}`, { key, at: now });
        out.push(key);
      }
    }
    for (const k of out) s.keysSent.add(k.domain);
    return out;
  }

  /** Expires leases and offers retries that came due; notes jobs no connected node can take. */
  async tick() {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.now();
      const expired = await this.opts.store.expireLeases(now);
      if (expired > 0) {
        this.opts.metrics?.inc('postlane_leases_expired_total', {}, expired);
        this.opts.logger.warn({ expired }, 'leases expired and were returned to the queue');
      }
      if (this.opts.shaper) await this.recordPolicyEvents(this.opts.shaper.tick(now));
      // Warm-up days roll over here, and the day's counts are written back in one batch.
      if (this.opts.shaper?.warmup) await this.recordPolicyEvents(await this.opts.shaper.warmup.tick(now));
      this.notifyWork();
      if (now - this.lastWaitingNote >= this.noteWaitingEvery) {
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
    await this.recordPolicyEvents(events);
    this.notifyWork();
    return events;
  }

  /** Jobs constrained to a region with no connected node wait; their trace says why, once. */
  private async noteUnroutable(now: number) {
    const regions = this.opts.connectedRegions ? await this.opts.connectedRegions() : [...new Set(this.summaries().map((n) => n.region))];
    const waiting = (await this.opts.store.readyJobsOutside(regions, now, 500)).filter((j) => j.lastClass !== 'no_node_in_region');
    if (waiting.length === 0) return;
    await this.opts.store.applyTransitions(
      waiting.map((j) => ({
        jobId: j.id,
        fromStates: ['queued'],
        set: { lastClass: 'no_node_in_region' },
        events: [{ messageId: j.messageId, jobId: j.id, type: 'waiting', at: now, data: { reason: `no MTA node is connected in region ${j.region}; the job stays queued until one is`, region: j.region } }],
      })),
    );
  }
}
