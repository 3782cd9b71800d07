/**
 * The hub's node sessions: one per open socket, from the checked token through hello/welcome to
 * close. A session holds what the hub knows of its node between frames (accepted IPs and their
 * pools, credits, leases outstanding, signing keys already sent) and is lost with the hub's
 * memory; the node then says hello again.
 */
import { encodeFrame, PROTOCOL_VERSION, type HubToNode, type NodeHello, type SourceIp } from '../../shared/protocol.ts';
import { newId } from '../../shared/ids.ts';
import type { DeliveryJobRecord } from '../domain/records.ts';
import type { NodeSummary } from '../ports/lease-hub.ts';
import type { NodeTokenRecord } from '../ports/store.ts';
import type { HubOptions } from './options.ts';
import { acceptAtHello } from './source-ips.ts';

export interface NodeConnection {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface Session {
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
  leasedJobs: Map<string, DeliveryJobRecord>;
  connectedAt: number;
  dispatching: boolean;
  dispatchAgain: boolean;
}

/** A session that has said hello: its node is known. */
export type ReadySession = Session & { hello: NodeHello };

export function ipAllowed(address: string, allowed: string[]): boolean {
  return allowed.includes('*') || allowed.includes(address);
}

export class Sessions {
  private readonly byConn = new Map<NodeConnection, Session>();
  /**
   * Which token owns a node id: the first token that said hello with it (in this hub's memory).
   * Leases are owned by node id, so another token's hello as this node is refused.
   */
  private readonly nodeTokens = new Map<string, string>();

  constructor(
    private readonly opts: HubOptions,
    private readonly now: () => number,
  ) {}

  /** A node's socket is open and its token checked; it must say hello next. */
  open(conn: NodeConnection, token: NodeTokenRecord) {
    this.byConn.set(conn, {
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
    const s = this.byConn.get(conn);
    if (s) this.opts.logger.info({ node: s.hello?.nodeId, session: s.id }, 'node disconnected');
    this.byConn.delete(conn);
    // Its leases stay until they expire or the node reconnects and reports them.
  }

  /** Closes every socket (the hub is stopping) and forgets their sessions. */
  closeAll(code: number, reason: string) {
    for (const conn of this.byConn.keys()) conn.close(code, reason);
    this.byConn.clear();
  }

  get(conn: NodeConnection): Session | undefined {
    return this.byConn.get(conn);
  }

  /** Whether the session's socket is still open (a dispatch may outlive it). */
  isOpen(s: Session): boolean {
    return this.byConn.has(s.conn);
  }

  all(): IterableIterator<Session> {
    return this.byConn.values();
  }

  send(s: Session, frame: HubToNode) {
    try {
      s.conn.send(encodeFrame(frame));
    } catch (error) {
      this.opts.logger.warn({ err: error, session: s.id }, 'send to node failed');
    }
  }

  /** Credits add up: each pull asks for that many more jobs than earlier pulls left unfilled. */
  addCredits(s: ReadySession, credits: number) {
    s.credits = Math.min(s.credits + credits, s.hello.capacity);
  }

  async hello(s: Session, hello: NodeHello) {
    // A node may only use IPs registered to its token (SPEC §3), and only in its token's region.
    if (hello.region !== s.token.region) {
      this.send(s, { type: 'error', v: PROTOCOL_VERSION, code: 'unauthorized', message: `token is for region ${s.token.region}, node said ${hello.region}`, fatal: true });
      s.conn.close(4003, 'region mismatch');
      return;
    }
    const allowed = hello.ips.filter((ip) => ipAllowed(ip.address, s.token.allowedIps));
    const accepted = acceptAtHello(allowed, s.token.id, await this.opts.store.listSourceIps());
    if (accepted.length === 0) {
      this.send(s, { type: 'error', v: PROTOCOL_VERSION, code: 'ip_not_allowed', message: `none of ${hello.ips.map((i) => i.address).join(', ')} is registered to this node token`, fatal: true });
      s.conn.close(4003, 'no allowed IP');
      return;
    }
    if (!this.claimNodeId(s, hello.nodeId)) return;
    s.hello = hello;
    s.ips = accepted;
    s.pools = [...new Set(accepted.map((ip) => ip.pool))];
    const now = this.now();
    const { store, logger, shaper } = this.opts;
    await store.upsertNode({ id: hello.nodeId, region: hello.region, version: hello.version, ips: accepted, capacity: hello.capacity, now });
    for (const pool of s.pools) await store.ensurePool(pool, null, now);
    logger.info({ node: hello.nodeId, region: hello.region, ips: accepted.map((i) => i.address), session: s.id }, 'node connected');
    this.send(s, { type: 'welcome', v: PROTOCOL_VERSION, sessionId: s.id, leaseTtlMs: this.opts.leaseTtlMs, heartbeatMs: this.opts.heartbeatMs, acceptedIps: accepted, ...(shaper ? { providerLimits: shaper.connectionLimits() } : {}) });
  }

  /**
   * One live session per node id, and a node id bound to one token: a hello as a node id another
   * token owns (or switching ids on one socket) is refused with 4009; a hello from the same token
   * while an older session of the node is open replaces it (a restart whose old socket the hub
   * has not seen close yet), closing the OLD one with 4009.
   */
  private claimNodeId(s: Session, nodeId: string): boolean {
    const refuse = (message: string, reason: string) => {
      this.opts.logger.warn({ node: nodeId, token: s.token.id, session: s.id, reason }, 'hello refused: node id in use');
      this.opts.metrics?.inc('postlane_hub_sessions_refused_total', { reason });
      this.send(s, { type: 'error', v: PROTOCOL_VERSION, code: 'node_conflict', message, fatal: true });
      s.conn.close(4009, 'node id in use');
      this.byConn.delete(s.conn);
      return false;
    };
    if (s.hello && s.hello.nodeId !== nodeId) return refuse(`this session is node ${s.hello.nodeId}`, 'renamed');
    const owner = this.nodeTokens.get(nodeId);
    if (owner !== undefined && owner !== s.token.id) return refuse(`node id ${nodeId} belongs to another node token`, 'other_token');
    for (const other of this.byConn.values()) {
      if (other === s || other.hello?.nodeId !== nodeId) continue;
      if (other.token.id !== s.token.id) return refuse(`node ${nodeId} is connected with another node token`, 'other_token');
      this.opts.logger.warn({ node: nodeId, old: other.id, session: s.id }, 'node said hello again from a new socket; closing the old session');
      this.opts.metrics?.inc('postlane_hub_sessions_refused_total', { reason: 'replaced' });
      this.send(other, { type: 'error', v: PROTOCOL_VERSION, code: 'node_conflict', message: `replaced by session ${s.id} of the same node`, fatal: true });
      other.conn.close(4009, 'replaced by a new session');
      this.byConn.delete(other.conn);
    }
    this.nodeTokens.set(nodeId, s.token.id);
    return true;
  }

  summaries(): NodeSummary[] {
    return [...this.byConn.values()]
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
}
