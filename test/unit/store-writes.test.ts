/**
 * The store's hot writes against a real libSQL file: multi-row INSERTs built from the
 * drizzle schema read back exactly as drizzle wrote them, concurrent accepts share one
 * transaction (group commit) and concurrent suppression lookups one query, and one bad request
 * in a group does not take the others down with it; guarded multi-row UPDATEs change only
 * rows in an allowed state.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, getTableColumns } from 'drizzle-orm';
import type { Client, InStatement } from '@libsql/client';
import { openDatabase } from '../../edge/adapters/node-server.ts';
import { LibsqlStore, type PostlaneDb } from '../../edge/store/libsql-store.ts';
import { guardedUpdater, rowInserter } from '../../edge/store/rows.ts';
import * as schema from '../../edge/store/schema.ts';
import { newMessage } from '../contract/store-fixtures.ts';
import type { NewMessage } from '../../edge/ports/store.ts';

let dir: string;
let client: Client;
let db: PostlaneDb;
/** Every statement list the store hands to `client.batch`: one entry per transaction. */
const transactions: InStatement[][] = [];
const queries: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postlane-accept-'));
  ({ client, db } = (await openDatabase(`file:${join(dir, 'db.sqlite')}`)) as { client: Client; db: PostlaneDb });
  await db.insert(schema.tenants).values({ id: 't1', name: 't1', createdAt: 1 });
  const batch = client.batch.bind(client);
  client.batch = ((stmts: InStatement[], mode?: never) => {
    transactions.push(stmts);
    return batch(stmts, mode);
  }) as Client['batch'];
  const execute = client.execute.bind(client);
  client.execute = ((stmt: InStatement) => {
    queries.push(typeof stmt === 'string' ? stmt : stmt.sql);
    return execute(stmt as never);
  }) as Client['execute'];
});
after(() => {
  client?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One message to one recipient, with JSON columns that must survive the multi-row insert. */
function message(tenantId: string, recipient: string, now = Date.now()): NewMessage {
  const m = newMessage({ tenantId, recipients: [recipient], pool: 'default', now });
  m.message.tags = { campaign: 'x' };
  m.events[0].data = { recipients: 1, nested: { ok: true } };
  return m;
}

describe('rowInserter', () => {
  test('rows written by the multi-row INSERT read back through drizzle as they went in (JSON, nulls, defaults)', async () => {
    const m = message('t1', 'r@dest.test');
    const { attempts: _omitted, ...jobWithoutDefault } = m.jobs[0];
    const statements = [
      ...rowInserter(schema.messages).statements([m.message], 50),
      ...rowInserter(schema.deliveryJobs).statements([jobWithoutDefault as typeof m.jobs[0]], 200),
      ...rowInserter(schema.messageEvents).statements(m.events, 200),
    ];
    await client.batch(statements, 'write');
    assert.deepEqual(await db.query.messages.findFirst({ where: eq(schema.messages.id, m.message.id) }), m.message);
    const job = await db.query.deliveryJobs.findFirst({ where: eq(schema.deliveryJobs.id, m.jobs[0].id) });
    assert.deepEqual(job, { ...m.jobs[0], attempts: 0 }, 'the omitted column took its schema default');
    const [event] = await db.select().from(schema.messageEvents).where(eq(schema.messageEvents.messageId, m.message.id));
    assert.ok(event.id > 0, 'autoincrement id assigned');
    assert.deepEqual(event.data, m.events[0].data);
  });

  test('rows are split into statements of at most `chunk` rows', () => {
    const rows = Array.from({ length: 5 }, (_, i) => message('t1', `c${i}@dest.test`).message);
    const statements = rowInserter(schema.messages).statements(rows, 2);
    assert.equal(statements.length, 3);
    const columns = Object.keys(getTableColumns(schema.messages)).length;
    assert.equal((statements[0] as { args: unknown[] }).args.length, 2 * columns);
    assert.equal((statements[2] as { args: unknown[] }).args.length, columns);
  });
});

describe('group commit', () => {
  test('concurrent accepts share one transaction; each caller gets its own outcome', async () => {
    const store = new LibsqlStore(db);
    transactions.length = 0;
    const items = Array.from({ length: 20 }, (_, i) => message('t1', `g${i}@dest.test`));
    const outcomes = await Promise.all(items.map((m, i) => store.acceptMessages('t1', [m], { key: `k-${i}-${Date.now()}`, requestHash: 'h', status: 202, response: '{}', expiresBefore: 0 })));
    assert.ok(outcomes.every((o) => o.kind === 'accepted'));
    assert.equal(transactions.length, 1, `20 concurrent accepts took ${transactions.length} transactions`);
    for (const m of items) assert.ok(await db.query.messages.findFirst({ where: eq(schema.messages.id, m.message.id) }));
  });

  test('a replayed key in the group: the others commit, the replay gets the first answer, a changed body gets a conflict', async () => {
    const store = new LibsqlStore(db);
    const key = `dup-${Date.now()}`;
    const first = await store.acceptMessages('t1', [message('t1', 'first@dest.test')], { key, requestHash: 'h1', status: 202, response: '{"id":"first"}', expiresBefore: 0 });
    assert.equal(first.kind, 'accepted');
    const others = Array.from({ length: 5 }, (_, i) => message('t1', `o${i}@dest.test`));
    const [replay, conflict, ...rest] = await Promise.all([
      store.acceptMessages('t1', [message('t1', 'again@dest.test')], { key, requestHash: 'h1', status: 202, response: '{}', expiresBefore: 0 }),
      store.acceptMessages('t1', [message('t1', 'changed@dest.test')], { key, requestHash: 'h2', status: 202, response: '{}', expiresBefore: 0 }),
      ...others.map((m) => store.acceptMessages('t1', [m], null)),
    ]);
    assert.deepEqual(replay, { kind: 'replay', status: 202, response: '{"id":"first"}' });
    assert.deepEqual(conflict, { kind: 'conflict' });
    assert.ok(rest.every((o) => o.kind === 'accepted'));
    for (const m of others) assert.ok(await db.query.messages.findFirst({ where: eq(schema.messages.id, m.message.id) }));
    const jobs = await db.select().from(schema.deliveryJobs).where(eq(schema.deliveryJobs.recipient, 'again@dest.test'));
    assert.equal(jobs.length, 0, 'the replay wrote nothing');
  });

  test('an expired key is released in the same transaction and taken by the new request', async () => {
    const store = new LibsqlStore(db);
    const key = `old-${Date.now()}`;
    const old = message('t1', 'old@dest.test', Date.now() - 25 * 3600_000);
    await store.acceptMessages('t1', [old], { key, requestHash: 'h-old', status: 202, response: '{"id":"old"}', expiresBefore: 0 });
    const fresh = await store.acceptMessages('t1', [message('t1', 'new@dest.test')], { key, requestHash: 'h-new', status: 202, response: '{"id":"new"}', expiresBefore: Date.now() - 24 * 3600_000 });
    assert.equal(fresh.kind, 'accepted');
    const row = await db.query.idempotencyKeys.findFirst({ where: eq(schema.idempotencyKeys.key, key) });
    assert.equal(row?.requestHash, 'h-new');
  });
});

describe('suppression lookups', () => {
  test('concurrent lookups share one query and each gets only its own addresses', async () => {
    const store = new LibsqlStore(db);
    const listed = { tenantId: 't1', source: 'test', messageId: null, jobId: null, createdAt: Date.now() };
    await store.addSuppressions([
      { ...listed, address: 'gone@dest.test', reason: 'hard_bounce' },
      { ...listed, address: 'angry@dest.test', reason: 'complaint' },
    ]);
    queries.length = 0;
    const [a, b, c] = await Promise.all([
      store.findSuppressions('t1', ['gone@dest.test', 'fine@dest.test']),
      store.findSuppressions('t1', ['angry@dest.test']),
      store.findSuppressions('t1', ['fine@dest.test']),
    ]);
    assert.deepEqual(a.map((r) => r.address), ['gone@dest.test']);
    assert.deepEqual(b.map((r) => r.address), ['angry@dest.test']);
    assert.deepEqual(c, []);
    assert.equal(queries.filter((q) => /from "suppressions"/i.test(q)).length, 1, queries.join('\n'));
  });
});

describe('guardedUpdater', () => {
  test('each row changes only from an allowed state; shapes share statements; RETURNING names the rows that changed', async () => {
    const store = new LibsqlStore(db);
    const items = Array.from({ length: 4 }, (_, i) => message('t1', `u${i}@dest.test`));
    await store.acceptMessages('t1', items, null);
    const [a, b, c, d] = items.map((m) => m.jobs[0].id);
    await db.update(schema.deliveryJobs).set({ state: 'delivered' }).where(eq(schema.deliveryJobs.id, d));
    const updates = guardedUpdater(schema.deliveryJobs, 'id', 'state').statements(
      [
        { key: a, set: { state: 'leased', leaseId: 'L1', attempts: 1 }, allowed: ['queued'] },
        { key: b, set: { state: 'leased', leaseId: 'L2', attempts: 1 }, allowed: ['queued'] },
        { key: c, set: { lastReply: "250 it's fine", lastClass: null }, allowed: ['queued', 'leased'] },
        { key: d, set: { state: 'queued', leaseId: null, attempts: 9 }, allowed: ['queued', 'leased'] },
      ],
      200,
    );
    assert.equal(updates.length, 3, 'a and b share a shape: three statements for four rows');
    const results = await client.batch(updates, 'write');
    assert.deepEqual(results.flatMap((r) => r.rows.map((row) => String(row.key))).sort(), [a, b, c].sort());
    const rows = new Map((await db.select().from(schema.deliveryJobs)).map((j) => [j.id, j]));
    assert.equal(rows.get(a)?.leaseId, 'L1');
    assert.equal(rows.get(b)?.leaseId, 'L2');
    assert.equal(rows.get(b)?.attempts, 1);
    assert.equal(rows.get(c)?.lastReply, "250 it's fine");
    assert.equal(rows.get(c)?.state, 'queued', 'columns not in the set are left alone');
    assert.equal(rows.get(d)?.state, 'delivered', 'a row outside the allowed states is untouched');
    assert.equal(rows.get(d)?.attempts, 0);
  });
});
