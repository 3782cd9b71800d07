/**
 * guardStore: a store that cannot answer (timeout, refused or lost connection, an overloaded
 * server) becomes StoreUnavailableError → 503 + Retry-After; any other store error is the
 * caller's bug and surfaces unchanged → 500 with its cause in the log. The errors come from the
 * real libSQL client against a closed port, an HTTP server answering 503 and a file database
 * without our tables; the timeout from a fake store that never answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createWebClient } from '@libsql/client/web';
import { createClient, LibsqlError } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { drizzle as drizzleWeb } from 'drizzle-orm/libsql/web';
import * as schema from '../../edge/store/schema.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import { guardStore, unavailableReason } from '../../edge/store/guarded.ts';
import { StoreUnavailableError } from '../../edge/domain/errors.ts';
import { createApp } from '../../edge/app.ts';
import { MemoryCounters } from '../../edge/adapters/memory-counters.ts';
import { memoryMetrics } from '../../edge/metrics.ts';
import { createSecrets, newMasterKey } from '../../edge/secrets.ts';
import type { Logger } from '../../edge/logger.ts';
import type { Store } from '../../edge/ports/store.ts';
import { freePort } from '../../dev/cluster/index.ts';

/** A store whose every method fails with what `fail()` returns (or never answers). */
function fakeStore(fail: () => Promise<never>): Store {
  return new Proxy({} as Store, { get: () => () => fail() });
}

/** Every message down the cause chain (drizzle → libsql → hrana), for matching the root cause. */
function causes(e: unknown): string {
  const out: string[] = [];
  for (let x = e as { message?: string; cause?: unknown } | undefined; x && out.length < 10; x = x.cause as typeof x) out.push(String(x.message));
  return out.join(' <- ');
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

async function appWith(store: Store) {
  const logged: Array<{ obj: any; msg?: string }> = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn() {},
    error: (obj, msg) => void logged.push({ obj, msg }),
    child: () => logger,
  };
  const app = createApp({
    store,
    counters: new MemoryCounters(),
    hub: {
      notifyWork() {},
      connect: async () => new Response(null, { status: 426 }),
      nodes: async () => [],
      reputation: async () => ({ breakers: [], rates: [], suspended_ips: [] }),
      warmups: async () => [],
      warmupsChanged: async () => {},
      feedback: async () => {},
    },
    secrets: await createSecrets(newMasterKey()),
    logger,
    metrics: memoryMetrics(),
    config: { maxMessageBytes: 1 << 20, tenantRatePerSec: 100, tenantBurst: 100, laneBacklogLimit: 1000, leaseTtlMs: 60_000, heartbeatMs: 10_000, requireVerifiedDomain: false },
  });
  // Authentication is the first store call of every /v1 route.
  const get = () => app.request('/v1/messages/msg_x', { headers: { authorization: 'Bearer pl_test' } });
  return { get, logged };
}

test('a store that does not answer in time: 503 + Retry-After, in about the timeout', async () => {
  const store = guardStore(fakeStore(() => new Promise<never>(() => {})), 150);
  const { get, logged } = await appWith(store);
  const started = Date.now();
  const res = await get();
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '1');
  assert.equal((await res.json()).error.code, 'store_unavailable');
  assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
  assert.equal((logged[0].obj.err as StoreUnavailableError).reason, 'timeout');
});

test('sqld not listening (connection refused, real web client): 503, reason unreachable', async () => {
  const client = createWebClient({ url: `http://127.0.0.1:${await freePort()}` });
  const store = guardStore(new LibsqlStore(drizzleWeb(client, { schema }), { groupCommit: false }), 5000);
  await assert.rejects(store.ping(), (e: unknown) => e instanceof StoreUnavailableError && e.reason === 'unreachable');
  const res = await (await appWith(store)).get();
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '1');
  client.close();
});

test('sqld (or a proxy in front of it) answering HTTP 503 / 502: 503; HTTP 401 (bad auth token): 500', async () => {
  let status = 503;
  const { url, server } = await listen((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status === 401 ? 'unauthorized' : 'overloaded');
  });
  try {
    const client = createWebClient({ url });
    const store = guardStore(new LibsqlStore(drizzleWeb(client, { schema }), { groupCommit: false }), 5000);
    for (status of [503, 502]) {
      await assert.rejects(store.ping(), (e: unknown) => e instanceof StoreUnavailableError && e.reason === 'unreachable', `HTTP ${status}`);
    }
    status = 401;
    // A wrong DB_AUTH_TOKEN is configuration, not an outage: retrying will never help.
    await assert.rejects(store.ping(), (e: unknown) => !(e instanceof StoreUnavailableError) && causes(e).includes('401'));
    const { get, logged } = await appWith(store);
    const res = await get();
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('retry-after'), null);
    assert.match(causes(logged[0].obj.err), /401/);
    client.close();
  } finally {
    server.close();
  }
});

test('a bad statement (no such table): rethrown as itself, 500 with the cause logged, no Retry-After', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postlane-guard-'));
  const client = createClient({ url: `file:${join(dir, 'empty.db')}` });
  try {
    // A database without migrations: every query of the store is a statement sqlite rejects.
    const store = guardStore(new LibsqlStore(drizzle(client, { schema })), 5000);
    await assert.rejects(store.findApiKey('x'), (e: unknown) => !(e instanceof StoreUnavailableError) && unavailableReason(e) === null);
    const { get, logged } = await appWith(store);
    const res = await get();
    assert.equal(res.status, 500);
    assert.equal((await res.json()).error.code, 'internal');
    assert.equal(res.headers.get('retry-after'), null);
    assert.equal(logged.length, 1);
    assert.match(causes(logged[0].obj.err), /no such table/);
  } finally {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a closed client (the embedded store shut down) is unavailable; a constraint violation is not', async () => {
  const closed = new LibsqlError('The client is closed', 'CLIENT_CLOSED');
  const constraint = new LibsqlError('UNIQUE constraint failed: messages.id', 'SQLITE_CONSTRAINT_UNIQUE');
  assert.equal(unavailableReason(closed), 'unreachable');
  assert.equal(unavailableReason(new LibsqlError('database is locked', 'SQLITE_BUSY')), 'busy');
  assert.equal(unavailableReason(constraint), null);
  // drizzle wraps the driver's error; the cause decides.
  const wrapped = Object.assign(new Error('Failed query: insert …'), { cause: constraint });
  assert.equal(unavailableReason(wrapped), null);
  assert.equal(unavailableReason(Object.assign(new Error('Failed query: select 1'), { cause: new TypeError('Network connection lost.') })), 'unreachable');

  const store = guardStore(fakeStore(() => Promise.reject(constraint)), 1000);
  await assert.rejects(store.ping(), (e: unknown) => e === constraint);
  const res = await (await appWith(store)).get();
  assert.equal(res.status, 500);
});

test('a send whose commit timed out is 503 store_outcome_unknown (it may still commit), not "nothing was accepted"', async () => {
  const { toApiError } = await import('../../edge/middleware/errors.ts');
  const timedOutSend = toApiError(new StoreUnavailableError('acceptMessages', new Error('no answer'), 'timeout'));
  assert.equal(timedOutSend.status, 503);
  assert.equal(timedOutSend.code, 'store_outcome_unknown');
  assert.match(String(timedOutSend.toBody().error.action), /same Idempotency-Key/);
  assert.equal(timedOutSend.retryAfterSeconds, 1);
  // Refused before anything was sent, or a read that timed out: nothing was written.
  assert.equal(toApiError(new StoreUnavailableError('acceptMessages', new Error('refused'), 'unreachable')).code, 'store_unavailable');
  assert.equal(toApiError(new StoreUnavailableError('findApiKey', new Error('no answer'), 'timeout')).code, 'store_unavailable');
});
