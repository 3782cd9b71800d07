/**
 * The lease hub: holds the connected MTA nodes of one deployment (Node) or one region (a Durable
 * Object), grants leases against their credits, extends them on heartbeat, expires them, and
 * commits results. It knows no runtime: adapters hand it a `NodeConnection` per socket and feed
 * it frames.
 *
 * This class only routes: frames and signals go to the part that owns the concern.
 *   ./sessions.ts       node sessions, hello/welcome, credits, frames out
 *   ./dispatch.ts       claim → shape → lease frame (./hold-back.ts requeues what was held,
 *                       ./dkim-keys.ts supplies signing keys)
 *   ./results.ts        results → job transitions (./transitions.ts), shaper signals, ack
 *   (here)              leases a node gives back unstarted (release)
 *   ./sweeper.ts        the tick: expired leases, breaker and warm-up days, waiting jobs
 *   ./policy-events.ts  storing what shaping changed
 * The claim query itself is in the store.
 */
import { parseNodeFrame, PROTOCOL_VERSION, type NodeToHub } from '../../shared/protocol.ts';
import type { FeedbackSignal, NodeSummary } from '../ports/lease-hub.ts';
import type { NodeTokenRecord } from '../ports/store.ts';
import { DkimKeys } from './dkim-keys.ts';
import { Dispatcher } from './dispatch.ts';
import { HoldBack } from './hold-back.ts';
import type { HubOptions } from './options.ts';
import { PolicyEventRecorder } from './policy-events.ts';
import { ResultHandler } from './results.ts';
import { Sessions, type NodeConnection, type ReadySession } from './sessions.ts';
import { Sweeper } from './sweeper.ts';

export type { HubOptions } from './options.ts';
export { ipAllowed, type NodeConnection } from './sessions.ts';

export class LeaseHub {
  private readonly now: () => number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private readonly sessions: Sessions;
  private readonly dispatcher: Dispatcher;
  private readonly results: ResultHandler;
  private readonly policyEvents: PolicyEventRecorder;
  private readonly sweeper: Sweeper;

  constructor(private readonly opts: HubOptions) {
    const now = (this.now = opts.now ?? Date.now);
    const held = new HoldBack(opts.store);
    this.sessions = new Sessions(opts, now);
    this.policyEvents = new PolicyEventRecorder(opts.store, opts.logger, now, () => this.notifyWork());
    this.dispatcher = new Dispatcher(opts, this.sessions, new DkimKeys(opts.store, opts.secrets, now), held, now);
    this.results = new ResultHandler(opts, this.sessions, this.policyEvents, held, now);
    this.sweeper = new Sweeper(opts, this.policyEvents, () => [...new Set(this.summaries().map((n) => n.region))], () => this.notifyWork(), now);
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
    this.sessions.closeAll(1001, 'hub stopping');
  }

  /** A node's socket is open and its token checked; it must say hello next. */
  open(conn: NodeConnection, token: NodeTokenRecord) {
    this.sessions.open(conn, token);
  }

  closed(conn: NodeConnection) {
    this.sessions.closed(conn);
  }

  async message(conn: NodeConnection, data: string) {
    const session = this.sessions.get(conn);
    if (!session) return;
    const parsed = parseNodeFrame(data);
    if (!parsed.ok) {
      this.opts.logger.warn({ session: session.id, error: parsed.error }, 'bad frame from node');
      this.opts.metrics?.inc('postlane_hub_bad_frames_total');
      this.sessions.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'bad_frame', message: parsed.error, fatal: false });
      return;
    }
    const frame = parsed.frame;
    try {
      if (frame.type === 'hello') return await this.sessions.hello(session, frame);
      if (!session.hello) {
        this.sessions.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'not_ready', message: 'send hello first', fatal: false });
        return;
      }
      const ready = session as ReadySession;
      if (frame.type === 'pull') {
        this.sessions.addCredits(ready, frame.credits);
        await this.dispatcher.dispatch(ready);
      } else if (frame.type === 'heartbeat') {
        // Only leases this node holds are extended (lease_owner = its node id, bound to its token);
        // the answer tells the node their new expiry, so it keeps sending behind a slow receiver.
        if (frame.leaseIds.length) {
          const leases = await this.opts.store.extendLeases(ready.hello.nodeId, frame.leaseIds, this.now() + this.opts.leaseTtlMs);
          if (this.sessions.isOpen(ready)) this.sessions.send(ready, { type: 'extended', v: PROTOCOL_VERSION, leases });
        }
      } else if (frame.type === 'results') {
        await this.results.onResults(ready, frame.results);
      } else if (frame.type === 'release') {
        await this.release(ready, frame);
      }
    } catch (error) {
      this.opts.logger.error({ err: error, session: session.id, frame: frame.type }, 'hub failed to handle frame');
      this.sessions.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'internal', message: 'the hub could not process the frame; it will be retried', fatal: false });
    }
  }

  /**
   * Leases a node gives back unstarted (its destination cannot take them in time): only those it
   * holds go back to the queue, not counted as attempts, after the delay it asked for. The node
   * then has room for other destinations' work (SPEC §8: a slow server costs only its own mail).
   */
  private async release(s: ReadySession, frame: Extract<NodeToHub, { type: 'release' }>) {
    const now = this.now();
    const released = await this.opts.store.releaseLeases(s.hello.nodeId, frame.leases, now + frame.retryAfterMs, frame.reason, now);
    for (const jobId of released) s.leasedJobs.delete(jobId);
    s.leased = Math.max(0, s.leased - released.length);
    this.opts.metrics?.inc('postlane_hub_leases_released_total', {}, released.length);
    this.opts.logger.info({ node: s.hello.nodeId, released: released.length, asked: frame.leases.length, reason: frame.reason }, 'node gave leases back unstarted');
  }

  /** New work is committed somewhere: offer it to nodes holding credits. */
  notifyWork() {
    for (const s of this.sessions.all()) if (s.credits > 0) void this.dispatcher.dispatch(s);
  }

  summaries(): NodeSummary[] {
    return this.sessions.summaries();
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
    await this.policyEvents.record(events);
  }

  /** Expires leases and offers retries that came due; notes jobs no connected node can take. */
  tick() {
    return this.sweeper.tick();
  }

  /**
   * Test and operator hook (like Shaper.force): ends a warm-up's plan day now, records the
   * day's decisions, and offers the jobs it held to the nodes again.
   */
  advanceWarmupDay(id: string) {
    return this.sweeper.advanceWarmupDay(id);
  }
}
