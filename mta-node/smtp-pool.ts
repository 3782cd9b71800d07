/**
 * SMTP sessions over nodemailer's SMTPConnection, pooled per (destination host:port, source IP,
 * TLS mode): several jobs for one destination share a session, one transaction after another.
 * Each operation is bounded by named timeouts, so a tarpit costs only its own destination.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { isIP } from 'node:net';
import type { Logger } from './log.ts';
import { LANE_RANK } from '../shared/lanes.ts';

export interface SmtpTimeouts {
  /** TCP connect, ms. */
  connectMs: number;
  /** From TCP connect to the 220 greeting, ms (RFC 5321 §4.5.3.2.1 suggests 5 min). */
  greetingMs: number;
  /** Silence allowed while waiting for any one reply, ms (RFC 5321 §4.5.3.2.2-4: 5 min). */
  commandMs: number;
  /** Wait for the reply after end of data, ms (RFC 5321 §4.5.3.2.6: 10 min); also bounds a whole transaction. */
  dataMs: number;
}

export const DEFAULT_TIMEOUTS: SmtpTimeouts = { connectMs: 30_000, greetingMs: 120_000, commandMs: 300_000, dataMs: 600_000 };

export interface PoolLimits {
  /** Connections open at once to one destination from one source IP. */
  maxConnections: number;
  /** Messages carried by one connection before it is closed (QUIT) and replaced. */
  maxMessagesPerConnection: number;
  /** An idle connection is closed after this long, ms. */
  idleMs: number;
}

export const DEFAULT_LIMITS: PoolLimits = { maxConnections: 10, maxMessagesPerConnection: 100, idleMs: 5_000 };

/** Where one session goes, and how. */
export interface SessionTarget {
  /** MX host name (used for SNI and as the pool key) or an IP literal. */
  host: string;
  port: number;
  /** Addresses of `host` to try in order. */
  addresses: string[];
  /** Source IP to bind, null lets the OS choose. */
  localAddress: string | null;
  ehlo: string;
  /** RFC 3207 STARTTLS is mandatory (MTA-STS enforce or policy); plaintext is refused. */
  requireTls: boolean;
  /** Verify the certificate when TLS is required (RFC 8461 §4.2 asks for PKIX validation). */
  verifyTls: boolean;
}

/** nodemailer's error shape (lib/smtp-connection `_formatError`). */
export interface SmtpError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

export function smtpError(message: string, code: string, command: string, response?: string): SmtpError {
  const err = new Error(message) as SmtpError;
  err.code = code;
  err.command = command;
  if (response) {
    err.response = response;
    const n = Number(/^\d{3}/.exec(response)?.[0]);
    if (n) err.responseCode = n;
  }
  return err;
}

type Conn = SMTPConnection & {
  secure?: boolean;
  _socket?: import('node:tls').TLSSocket;
  _onData: (chunk: Buffer) => void;
  _destroyed?: boolean;
};

/** Upper bound on the bytes of replies to one operation (a hostile server's endless reply). */
const MAX_REPLY_BYTES = 64 * 1024;

/** One SMTP session. Operations run one at a time. */
export class SmtpSession {
  readonly id: number;
  messages = 0;
  tls: string | null = null;
  closed = false;
  lastUsed = Date.now();
  private replyBytes = 0;
  private failOp: ((err: SmtpError) => void) | null = null;

  private constructor(
    private readonly conn: Conn,
    readonly target: SessionTarget,
    readonly address: string,
    private readonly timeouts: SmtpTimeouts,
    id: number,
  ) {
    this.id = id;
    // Count reply bytes; nodemailer would buffer an endless multi-line reply without limit.
    const onData = conn._onData.bind(conn);
    conn._onData = (chunk: Buffer) => {
      this.replyBytes += chunk?.length ?? 0;
      if (this.replyBytes > MAX_REPLY_BYTES) {
        this.abort(smtpError(`reply larger than ${MAX_REPLY_BYTES} bytes`, 'EPROTOCOL', 'CONN'));
        return;
      }
      onData(chunk);
    };
    // abort, not only fail: close() also clears nodemailer's own timers (its greeting timeout
    // outlived a connection the server dropped, holding the process for minutes).
    conn.on('error', (err: SmtpError) => this.abort(err));
    conn.on('end', () => this.abort(smtpError('connection closed', 'ECONNECTION', 'CONN')));
  }

  private fail(err: SmtpError): void {
    this.closed = true;
    const f = this.failOp;
    this.failOp = null;
    f?.(err);
  }

  /** Closes at once and fails the running operation with `err`. */
  abort(err: SmtpError): void {
    this.fail(err);
    try {
      this.conn.close();
    } catch {
      /* already closed */
    }
  }

  /** Runs one nodemailer operation with an absolute deadline; connection loss fails it. */
  private op<T>(what: string, deadlineMs: number, run: (done: (err: SmtpError | null, v?: T) => void) => void): Promise<T> {
    if (this.closed) return Promise.reject(smtpError('connection is closed', 'ECONNECTION', what === 'send' ? 'MAIL FROM' : 'CONN'));
    this.replyBytes = 0;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: SmtpError | null, v?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.failOp = null;
        this.lastUsed = Date.now();
        if (err) reject(err);
        else resolve(v as T);
      };
      const timer = setTimeout(() => {
        const err = smtpError(`${what} took longer than ${deadlineMs} ms`, 'ETIMEDOUT', (this.conn as unknown as { stage?: string }).stage === 'init' ? 'CONN' : currentCommand(this.conn, what));
        finish(err);
        this.abort(err);
      }, deadlineMs);
      this.failOp = (err) => finish(err);
      try {
        run(finish);
      } catch (err) {
        finish(err as SmtpError);
      }
    });
  }

  static async open(target: SessionTarget, address: string, timeouts: SmtpTimeouts, id: number, ignoreTls: boolean, logger?: Logger): Promise<SmtpSession> {
    const conn = new SMTPConnection({
      host: address,
      port: target.port,
      name: target.ehlo,
      localAddress: target.localAddress ?? undefined,
      // SNI and certificate name are the MX host, not the address we connect to.
      servername: isIP(target.host) ? undefined : target.host,
      connectionTimeout: timeouts.connectMs,
      greetingTimeout: timeouts.greetingMs,
      socketTimeout: timeouts.commandMs,
      // RFC 3207: STARTTLS when offered. Opportunistic TLS accepts any certificate, as MTAs do
      // (RFC 7435); when TLS is required, plaintext is refused and the certificate is verified.
      ignoreTLS: ignoreTls && !target.requireTls,
      requireTLS: target.requireTls,
      opportunisticTLS: !target.requireTls,
      tls: { rejectUnauthorized: target.requireTls && target.verifyTls, ...(isIP(target.host) ? {} : { servername: target.host }) },
      allowInternalNetworkInterfaces: true,
      logger: false,
    } as SMTPConnection.Options) as Conn;
    const session = new SmtpSession(conn, target, address, timeouts, id);
    const deadline = timeouts.connectMs + timeouts.greetingMs + 3 * timeouts.commandMs;
    await session.op<void>('connect', deadline, (done) => conn.connect(() => done(null)));
    if (target.requireTls && !conn.secure) {
      session.abort(smtpError('TLS is required but the session is not encrypted', 'ETLS', 'STARTTLS'));
      throw smtpError('TLS is required but the session is not encrypted', 'ETLS', 'STARTTLS');
    }
    // Each SMTP step is a small write awaited by its reply; with Nagle's algorithm on, the
    // end-of-data dot waits for the server's delayed ACK (~40 ms on Linux) on every message.
    (conn._socket as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    session.tls = conn.secure ? conn._socket?.getProtocol?.() ?? 'TLS' : null;
    logger?.debug({ host: target.host, address, tls: session.tls, sid: id }, 'SMTP session open');
    return session;
  }

  /** One transaction: MAIL FROM, RCPT TO, DATA. Resolves with the final reply text. */
  async send(from: string, to: string, message: Buffer): Promise<string> {
    const deadline = 3 * this.timeouts.commandMs + this.timeouts.dataMs;
    const info = await this.op<SMTPConnection.SentMessageInfo>('send', deadline, (done) =>
      this.conn.send({ from, to: [to] } as SMTPConnection.Envelope, message, (err, info) => done(err as SmtpError | null, info)),
    );
    this.messages++;
    return String(info.response ?? '');
  }

  /** RSET, to clear a failed transaction (RFC 5321 §4.1.1.5). */
  async reset(): Promise<void> {
    await this.op<void>('RSET', this.timeouts.commandMs, (done) => this.conn.reset((err) => done(err as SmtpError | null)));
  }

  quit(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.quit();
    } catch {
      /* ignore */
    }
    // A server that never answers QUIT must not hold the socket.
    setTimeout(() => {
      try {
        this.conn.close();
      } catch {
        /* ignore */
      }
    }, 2_000).unref();
  }
}

/** The SMTP command a stalled operation was in, from nodemailer's envelope state. */
function currentCommand(conn: Conn, what: string): string {
  if (what !== 'send') return what === 'connect' ? 'CONN' : what;
  const env = (conn as unknown as { _envelope?: { accepted?: string[]; rcptQueue?: string[] } })._envelope;
  if (!env) return 'MAIL FROM';
  if (env.accepted?.length) return 'DATA';
  return 'RCPT TO';
}

interface Waiter {
  resolve: (s: SmtpSession | null) => void;
  /** Lower goes first: transactional mail is not queued behind a blast the node already holds. */
  priority: number;
}

/** Lane order for sessions that free up (SPEC §4: transactional never waits on marketing). */
export const LANE_PRIORITY: Record<string, number> = LANE_RANK;

class DestinationPool {
  idle: SmtpSession[] = [];
  open = 0;
  waiters: Waiter[] = [];
  idleTimer: NodeJS.Timeout | null = null;
  constructor(readonly key: string) {}
}

export interface PoolEvents {
  onConnect?: (s: SmtpSession) => void;
  onClose?: (s: SmtpSession) => void;
}

export class SmtpPools {
  private readonly pools = new Map<string, DestinationPool>();
  /** Destinations whose STARTTLS handshake failed: deliver in plaintext for a while (as Postfix does). */
  private readonly tlsBroken = new Map<string, number>();
  private nextId = 1;
  private closing = false;

  constructor(
    private readonly timeouts: SmtpTimeouts = DEFAULT_TIMEOUTS,
    private readonly logger?: Logger,
    private readonly events: PoolEvents = {},
  ) {}

  static key(t: SessionTarget): string {
    return `${t.host.toLowerCase()}:${t.port}|${t.localAddress ?? '*'}|${t.requireTls ? 'tls' : 'opp'}`;
  }

  get openConnections(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.open;
    return n;
  }

  /**
   * Runs `fn` on a session to `target`: an idle one when there is one, a new one while under the
   * connection limit, otherwise the next one released. `reused` tells whether the session had
   * carried a message before.
   */
  async withSession<T>(target: SessionTarget, limits: PoolLimits, fn: (s: SmtpSession, reused: boolean) => Promise<T>, priority = 1, waitMs = Number.POSITIVE_INFINITY): Promise<T> {
    const key = SmtpPools.key(target);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new DestinationPool(key);
      this.pools.set(key, pool);
    }
    const session = await this.acquire(pool, target, limits, priority, waitMs);
    const reused = session.messages > 0;
    try {
      return await fn(session, reused);
    } finally {
      this.release(pool, session, limits);
    }
  }

  /**
   * A session for `pool`. Waiting is bounded: with no session within `waitMs` it fails with code
   * EBUSY (nothing was sent), so a destination whose sessions are stuck (a tarpit) gives its
   * waiting jobs back instead of holding node capacity other destinations could use (SPEC §8).
   * A healthy destination frees sessions long before; its queue is not touched.
   */
  private async acquire(pool: DestinationPool, target: SessionTarget, limits: PoolLimits, priority: number, waitMs: number): Promise<SmtpSession> {
    const waitUntil = Date.now() + waitMs;
    for (;;) {
      if (this.closing) throw smtpError('node is stopping', 'ECONNECTION', 'CONN');
      while (pool.idle.length) {
        const s = pool.idle.pop()!;
        if (!s.closed) return s;
        this.forget(pool, s);
      }
      if (pool.open < limits.maxConnections) {
        pool.open++;
        try {
          const s = await this.connect(target);
          this.events.onConnect?.(s);
          return s;
        } catch (err) {
          pool.open--;
          this.wakeOne(pool);
          throw err;
        }
      }
      const left = waitUntil - Date.now();
      if (left <= 0) throw smtpError(`no session to ${target.host} within ${waitMs} ms`, 'EBUSY', 'CONN');
      const handed = await new Promise<SmtpSession | null | 'timeout'>((resolve) => {
        // Stable insert by priority: FIFO within a lane.
        const at = pool.waiters.findIndex((w) => w.priority > priority);
        const waiter: Waiter = { resolve: (s) => (clearTimeout(timer), resolve(s)), priority };
        const timer = Number.isFinite(left)
          ? setTimeout(() => {
              const i = pool.waiters.indexOf(waiter);
              if (i >= 0) pool.waiters.splice(i, 1);
              resolve('timeout');
            }, left)
          : undefined;
        pool.waiters.splice(at < 0 ? pool.waiters.length : at, 0, waiter);
      });
      if (handed === 'timeout') throw smtpError(`no session to ${target.host} within ${waitMs} ms`, 'EBUSY', 'CONN');
      if (handed && !handed.closed) return handed;
      if (handed) this.forget(pool, handed);
    }
  }

  private async connect(target: SessionTarget): Promise<SmtpSession> {
    const brokenUntil = this.tlsBroken.get(target.host) ?? 0;
    const ignoreTls = brokenUntil > Date.now();
    let last: unknown = null;
    for (const address of target.addresses) {
      try {
        return await SmtpSession.open(target, address, this.timeouts, this.nextId++, ignoreTls, this.logger);
      } catch (err) {
        last = err;
        const e = err as SmtpError;
        // Opportunistic TLS that fails its handshake: retry once in plaintext and remember.
        if (!target.requireTls && !ignoreTls && e.code === 'ETLS') {
          this.tlsBroken.set(target.host, Date.now() + 3600_000);
          this.logger?.info({ host: target.host, err: e.message }, 'STARTTLS failed; delivering in plaintext to this host for 1 h');
          try {
            return await SmtpSession.open(target, address, this.timeouts, this.nextId++, true, this.logger);
          } catch (err2) {
            last = err2;
          }
        }
        // Only connection-level failures move on to the next address.
        if ((last as SmtpError).response) break;
      }
    }
    throw last ?? smtpError('no address to connect to', 'EDNS', 'DNS');
  }

  private release(pool: DestinationPool, s: SmtpSession, limits: PoolLimits): void {
    if (s.closed || this.closing || s.messages >= limits.maxMessagesPerConnection) {
      s.quit();
      this.forget(pool, s);
      return;
    }
    const w = pool.waiters.shift();
    if (w) {
      w.resolve(s);
      return;
    }
    pool.idle.push(s);
    this.armIdle(pool, limits.idleMs);
  }

  private forget(pool: DestinationPool, s: SmtpSession): void {
    pool.open--;
    this.events.onClose?.(s);
    this.wakeOne(pool);
    if (pool.open === 0 && pool.waiters.length === 0) {
      if (pool.idleTimer) clearTimeout(pool.idleTimer);
      this.pools.delete(pool.key);
    }
  }

  private wakeOne(pool: DestinationPool): void {
    pool.waiters.shift()?.resolve(null);
  }

  private armIdle(pool: DestinationPool, idleMs: number): void {
    if (pool.idleTimer) return;
    pool.idleTimer = setTimeout(() => {
      pool.idleTimer = null;
      const now = Date.now();
      const keep: SmtpSession[] = [];
      for (const s of pool.idle) {
        if (s.closed || now - s.lastUsed >= idleMs) {
          s.quit();
          this.forget(pool, s);
        } else keep.push(s);
      }
      pool.idle = keep;
      if (keep.length) this.armIdle(pool, idleMs);
    }, idleMs);
    pool.idleTimer.unref();
  }

  /** QUITs idle sessions; sessions in use close when their operation ends. */
  async close(): Promise<void> {
    this.closing = true;
    for (const pool of [...this.pools.values()]) {
      if (pool.idleTimer) clearTimeout(pool.idleTimer);
      for (const s of pool.idle.splice(0)) {
        s.quit();
        this.forget(pool, s);
      }
      for (const w of pool.waiters.splice(0)) w.resolve(null);
    }
  }
}
