/**
 * SMTP sessions pooled per (destination host:port, source IP, TLS mode): several jobs for one
 * destination share a session, one transaction after another. The session itself (timeouts,
 * errors) is in smtp-session.ts; its names are re-exported here for existing importers.
 */
import type { Logger } from './log.ts';
import { LANE_RANK } from '../shared/lanes.ts';
import { DEFAULT_TIMEOUTS, type SessionTarget, type SmtpError, smtpError, SmtpSession, type SmtpTimeouts } from './smtp-session.ts';

export { DEFAULT_TIMEOUTS, type SessionTarget, type SmtpError, smtpError, SmtpSession, type SmtpTimeouts } from './smtp-session.ts';

export interface PoolLimits {
  /** Connections open at once to one destination from one source IP. */
  maxConnections: number;
  /** Messages carried by one connection before it is closed (QUIT) and replaced. */
  maxMessagesPerConnection: number;
  /** An idle connection is closed after this long, ms. */
  idleMs: number;
}

export const DEFAULT_LIMITS: PoolLimits = { maxConnections: 10, maxMessagesPerConnection: 100, idleMs: 5_000 };

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
