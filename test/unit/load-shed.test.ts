// Load shedding (edge/middleware/load-shed.ts): past the limit of requests in progress, new ones
// get 503 `overloaded` + Retry-After at once; the ones in progress finish; health is never shed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../edge/app.ts';
import { memoryMetrics } from '../../edge/metrics.ts';
import type { Store } from '../../edge/ports/store.ts';

test('with 2 requests in progress a third is shed with 503 overloaded; health still answers', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // Every store call waits at the gate: the first requests stay in progress until released.
  const store = new Proxy({} as Store, { get: (_t, prop) => (prop === 'ping' ? async () => {} : async () => (await gate, null)) });
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
  const app = createApp({ store, metrics: memoryMetrics(), logger: quiet, config: { maxMessageBytes: 1 << 20, maxConcurrentRequests: 2 } } as never);
  const call = () => app.request('/v1/messages/msg_x', { headers: { authorization: 'Bearer pl_whatever_key' } });
  const first = [call(), call()];
  await new Promise((r) => setImmediate(r));
  const shed = await call();
  assert.equal(shed.status, 503);
  assert.equal(shed.headers.get('retry-after'), '1');
  const body = await shed.json();
  assert.equal(body.error.code, 'overloaded');
  assert.equal(body.error.limit, 2);
  assert.equal((await app.request('/healthz')).status, 200, 'health is never shed');
  release();
  for (const res of await Promise.all(first)) assert.equal(res.status, 401, 'the requests in progress got their own answer');
  assert.equal((await call()).status, 401, 'after they finished, new requests are served again');
});
