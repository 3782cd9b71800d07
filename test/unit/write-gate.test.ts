/**
 * The Worker's write gate (edge/durable/write-gate.ts) over a fake libSQL client: writes go to
 * the server one at a time, reads are never held, a write that cannot start in time is never
 * sent, SQLITE_BUSY is retried, and a slot left by a cancelled request is reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@libsql/client';
import { LibsqlError } from '@libsql/client';
import { gateWrites, WriteQueueTimeout } from '../../edge/durable/write-gate.ts';
import { unavailableReason } from '../../edge/store/guarded.ts';

function fakeClient(opts: { writeMs?: number; failBusy?: number } = {}) {
  const seen = { active: 0, maxActive: 0, writes: 0, reads: 0, busyLeft: opts.failBusy ?? 0 };
  const write = async () => {
    seen.active++;
    seen.maxActive = Math.max(seen.maxActive, seen.active);
    try {
      await new Promise((r) => setTimeout(r, opts.writeMs ?? 5));
      if (seen.busyLeft > 0) {
        seen.busyLeft--;
        throw new LibsqlError('database is locked', 'SQLITE_BUSY');
      }
      seen.writes++;
      return { rows: [] };
    } finally {
      seen.active--;
    }
  };
  const client = {
    batch: write,
    execute: async (stmt: { sql: string } | string) => {
      const sql = typeof stmt === 'string' ? stmt : stmt.sql;
      if (/^\s*select/i.test(sql)) {
        seen.reads++;
        return { rows: [] };
      }
      return write();
    },
    close() {},
  } as unknown as Client;
  return { client, seen };
}

test('writes reach the server one at a time; reads pass while a write waits', async () => {
  const { client, seen } = fakeClient({ writeMs: 10 });
  const gated = gateWrites(client, { concurrency: 1, maxWaitMs: 5_000 });
  const writes = [
    ...Array.from({ length: 8 }, () => gated.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }])),
    ...Array.from({ length: 4 }, () => gated.execute({ sql: '\n  UPDATE t SET x = 1 RETURNING *', args: [] })),
  ];
  await gated.execute({ sql: 'SELECT 1', args: [] });
  assert.equal(seen.reads, 1, 'the read did not wait behind the writes');
  await Promise.all(writes);
  assert.equal(seen.writes, 12);
  assert.equal(seen.maxActive, 1);
});

test('a write that cannot start within maxWaitMs is not sent and reads as a store timeout', async () => {
  const { client, seen } = fakeClient({ writeMs: 400 });
  const gated = gateWrites(client, { concurrency: 1, maxWaitMs: 100 });
  const first = gated.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]);
  await new Promise((r) => setTimeout(r, 5));
  await assert.rejects(gated.batch([{ sql: 'INSERT INTO t VALUES (2)', args: [] }]), (e: unknown) => e instanceof WriteQueueTimeout && unavailableReason(e) === 'timeout');
  await first;
  await new Promise((r) => setTimeout(r, 450));
  assert.equal(seen.writes, 1, 'the timed-out write never reached the server');
});

test('SQLITE_BUSY is retried (the batch did nothing); past the retries it surfaces', async () => {
  const { client, seen } = fakeClient({ failBusy: 2 });
  const gated = gateWrites(client, { concurrency: 1, maxWaitMs: 5_000, busyRetries: 3 });
  await gated.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]);
  assert.equal(seen.writes, 1);
  const stubborn = fakeClient({ failBusy: 10 });
  const once = gateWrites(stubborn.client, { concurrency: 1, maxWaitMs: 5_000, busyRetries: 1 });
  await assert.rejects(once.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]), (e: unknown) => (e as LibsqlError).code === 'SQLITE_BUSY');
});

test('a slot held past its lease (a request the runtime cancelled) is reused', async () => {
  let release!: () => void;
  const hung = new Promise<void>((r) => (release = r));
  let calls = 0;
  const client = {
    batch: async () => {
      calls++;
      if (calls === 1) await hung; // never settles in time: the cancelled request
      return [];
    },
    execute: async () => ({ rows: [] }),
  } as unknown as Client;
  const gated = gateWrites(client, { concurrency: 1, maxWaitMs: 2_000, slotLeaseMs: 100 });
  void gated.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]);
  await gated.batch([{ sql: 'INSERT INTO t VALUES (2)', args: [] }]);
  assert.equal(calls, 2);
  release();
});
