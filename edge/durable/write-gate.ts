/**
 * Write admission for the Worker's libSQL client: at most `concurrency` write transactions of
 * this isolate are at the server at once; the others wait here, and a write that cannot start
 * within `maxWaitMs` is not sent at all.
 *
 * Why: SQLite has one writer, so writes sent together only queue inside the server. sqld 0.24
 * does that badly: with four or more write transactions contending, some fail with SQLITE_BUSY,
 * and now and then its write-lock handoff stalls for good (every later write hangs while sqld
 * spins a core) — measured with 100-row batches at 4-8 concurrent writers; 1-2 never failed.
 * Queuing here instead costs no throughput (the server would serialise them anyway) and keeps
 * the lock uncontended. Dropping writes whose caller has given up (the store timeout) stops a
 * backlog of abandoned work from holding the writer while fresh requests time out behind it.
 *
 * Workers constraint: one request may not wake another (a promise settled by another request's
 * I/O never resumes), so waiters poll on their own timers instead of being handed the slot.
 * Workers may also cancel a request mid-write; a slot held longer than `slotLeaseMs` is taken
 * as lost and reused.
 */
import type { Client, InStatement } from '@libsql/client';

export interface WriteGateOptions {
  /** Write transactions of this isolate at the server at once (STORE_WRITE_CONCURRENCY). */
  concurrency: number;
  /** A write still waiting after this long fails without being sent (the store timeout). */
  maxWaitMs: number;
  /** A slot older than this belongs to a request the runtime cancelled. */
  slotLeaseMs?: number;
  /** Retries of a write that sqld answered SQLITE_BUSY (another process holds the lock). */
  busyRetries?: number;
}

export class WriteQueueTimeout extends Error {
  readonly name = 'TimeoutError';
  constructor(waitedMs: number, concurrency: number) {
    super(`no store write slot within ${waitedMs} ms (STORE_WRITE_CONCURRENCY=${concurrency} write(s) at a time, STORE_TIMEOUT_MS)`);
  }
}

const WRITE_SQL = /^\s*(insert|update|delete|replace|create|drop|alter|begin)\b/i;

function sqlOf(stmt: InStatement | string): string {
  return typeof stmt === 'string' ? stmt : stmt.sql;
}

function isBusy(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function gateWrites(client: Client, opts: WriteGateOptions): Client {
  const slots = new Map<number, number>();
  const leaseMs = opts.slotLeaseMs ?? Math.max(30_000, opts.maxWaitMs * 4);
  const busyRetries = opts.busyRetries ?? 3;
  let nextSlot = 0;

  const acquire = async (): Promise<number> => {
    const started = Date.now();
    for (let round = 0; ; round++) {
      const now = Date.now();
      for (const [id, at] of slots) if (now - at > leaseMs) slots.delete(id);
      if (slots.size < opts.concurrency) {
        const id = nextSlot++;
        slots.set(id, now);
        return id;
      }
      if (now - started >= opts.maxWaitMs) throw new WriteQueueTimeout(now - started, opts.concurrency);
      // Short, jittered polls: a write holds the slot for a few ms on loopback.
      await sleep(Math.min(2 + round, 10) + Math.random() * 3);
    }
  };

  const gated = async <T>(run: () => Promise<T>): Promise<T> => {
    const slot = await acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await run();
        } catch (error) {
          // A BUSY write did nothing (batches roll back whole): safe to send again.
          if (!isBusy(error) || attempt >= busyRetries) throw error;
          await sleep(10 + Math.random() * 40 * (attempt + 1));
        }
      }
    } finally {
      slots.delete(slot);
    }
  };

  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === 'batch') {
        return (stmts: Array<InStatement>, mode?: Parameters<Client['batch']>[1]) => gated(() => target.batch(stmts, mode));
      }
      if (prop === 'execute') {
        return (stmt: InStatement | string, args?: unknown) => {
          const call = () => (args === undefined ? target.execute(stmt as InStatement) : target.execute(stmt as string, args as never));
          return WRITE_SQL.test(sqlOf(stmt)) ? gated(call) : call();
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
