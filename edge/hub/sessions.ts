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
    const { store, logger, shaper } = this.opts;
    await store.upsertNode({ id: hello.nodeId, region: hello.region, version: hello.version, ips: accepted, capacity: hello.capacity, now });
    for (const pool of s.pools) await store.ensurePool(pool, null, now);
    logger.info({ node: hello.nodeId, region: hello.region, ips: accepted.map((i) => i.address), session: s.id }, 'node connected');
    this.send(s, { type: 'welcome', v: PROTOCOL_VERSION, sessionId: s.id, leaseTtlMs: this.opts.leaseTtlMs, heartbeatMs: this.opts.heartbeatMs, acceptedIps: accepted, ...(shaper ? { providerLimits: shaper.connectionLimits() } : {}) });
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
