/**
 * Cluster mode, for real: two edge instances in workerd sharing Durable Objects, sqld primary +
 * replica, an MTA node in each of two regions, an SMTP sink. The spine scenarios across both
 * edges, and regional routing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate } from 'mailauth';
import { createClient } from '@libsql/client';
import { WebSocket } from 'ws';
import { callApi, startCluster, type Cluster } from '../../dev/cluster/index.ts';
import { waitFor } from '../helpers/platform.ts';
import { buildArfReport } from '../simulator/provider-sim.ts';

let cluster: Cluster;
let dnsTxt: string;
/** Every 202'd message id, with the key of the tenant that owns it. */
const accepted = new Map<string, string | undefined>();

const msg = (over: Record<string, unknown> = {}) => ({ from: 'app@sender.test', to: 'someone@example.com', subject: 'cluster', text: 'hello from the cluster', ...over });

async function delivered(id: string, key?: string, timeoutMs = 20_000) {
  return waitFor(async () => {
    const res = await callApi(cluster.edges[0].url, key ?? cluster.apiKey, 'GET', `/v1/messages/${id}`);
    return res.status === 200 && res.body.status === 'delivered' ? res.body : null;
  }, timeoutMs, `message ${id} delivered`);
}

describe('cluster: two workerd edges, shared Durable Objects, sqld', { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await startCluster({ vars: { POSTLANE_TENANT_RATE: '2', POSTLANE_TENANT_BURST: '8' } });
    const dom = await cluster.api(cluster.edges[0], 'POST', '/v1/domains', { domain: 'sender.test' });
    assert.equal(dom.status, 201, JSON.stringify(dom.body));
    dnsTxt = dom.body.dns_records.find((r: { purpose: string }) => r.purpose === 'dkim').value;
  });

  after(async () => {
    await cluster?.stop();
  });

  test('a message sent to edge B is delivered by a node, DKIM-signed, and visible from edge A', async () => {
    const res = await cluster.api(cluster.edges[1], 'POST', '/v1/messages', msg({ to: 'spine@example.com' }));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    accepted.set(res.body.id, undefined);
    const view = await delivered(res.body.id);
    assert.ok(view.events.some((e: { type: string }) => e.type === 'leased'));
    const mail = cluster.sink.mails.find((m) => m.to.includes('spine@example.com'));
    assert.ok(mail, 'the sink got the message');
    const auth = await authenticate(mail.raw, {
      ip: '127.0.0.1',
      helo: 'mta.test',
      sender: mail.from,
      resolver: async (name: string, type: string) => {
        if (type === 'TXT' && name.endsWith('._domainkey.sender.test')) return [[dnsTxt]];
        const err = new Error('not found') as Error & { code: string };
        err.code = 'ENOTFOUND';
        throw err;
      },
    });
    assert.equal(auth.dkim.results[0]?.status.result, 'pass', JSON.stringify(auth.dkim.results[0]?.status));
  });

  test('a complaint posted to edge A suppresses the recipient everywhere and reaches the region hubs', async () => {
    const mail = cluster.sink.mails.find((m) => m.to.includes('spine@example.com'));
    assert.ok(mail, 'the spine message was delivered first');
    // What the receiver's feedback loop sends back: an ARF report (RFC 5965) around the original.
    const report = buildArfReport({ provider: 'other', ip: '127.0.0.1', mailFrom: mail.from, rcpt: 'spine@example.com', original: mail.raw, at: new Date() });
    const res = await fetch(`${cluster.edges[0].url}/v1/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.apiKey}`, 'content-type': 'message/rfc822' },
      body: report,
    });
    const body = (await res.json()) as { matched: boolean; kind: string; actions: string[] };
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(body.matched, true, JSON.stringify(body));
    assert.equal(body.kind, 'complaint');
    assert.ok(body.actions.includes('signal:complaint'), `the Worker's hubs took the signal: ${body.actions.join(', ')}`);
    const again = await cluster.api(cluster.edges[1], 'POST', '/v1/messages', msg({ to: 'spine@example.com' }));
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.deepEqual(again.body.suppressed, ['spine@example.com']);
  });

  test('the same Idempotency-Key on both edges makes one message', async () => {
    const body = msg({ to: 'idem@example.com', subject: 'once' });
    const headers = { 'Idempotency-Key': `idem-${Date.now()}` };
    const [a, b] = await Promise.all([
      cluster.api(cluster.edges[0], 'POST', '/v1/messages', body, headers),
      cluster.api(cluster.edges[1], 'POST', '/v1/messages', body, headers),
    ]);
    assert.deepEqual([a.status, b.status], [202, 202], JSON.stringify([a.body, b.body]));
    assert.equal(a.body.id, b.body.id);
    const again = await cluster.api(cluster.edges[1], 'POST', '/v1/messages', body, headers);
    assert.equal(again.body.id, a.body.id);
    const conflict = await cluster.api(cluster.edges[0], 'POST', '/v1/messages', { ...body, subject: 'different' }, headers);
    assert.equal(conflict.status, 409);
    accepted.set(a.body.id, undefined);
    await delivered(a.body.id);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(cluster.sink.mails.filter((m) => m.to.includes('idem@example.com')).length, 1);
  });

  test("a tenant's rate limit holds across both edges (429 with Retry-After)", async () => {
    const tenant = await cluster.api(cluster.edges[0], 'POST', '/v1/tenants', { name: 'limited' });
    assert.equal(tenant.status, 201, JSON.stringify(tenant.body));
    const key = tenant.body.api_key as string;
    const dom = await callApi(cluster.edges[0].url, key, 'POST', '/v1/domains', { domain: 'limited.test' });
    assert.equal(dom.status, 201);
    const started = Date.now();
    const replies = [];
    // Burst 8 per tenant: with a bucket per edge, 14 sends alternating over two edges would all pass.
    for (let i = 0; i < 14; i++) {
      const edge = cluster.edges[i % 2];
      replies.push(await callApi(edge.url, key, 'POST', '/v1/messages', msg({ from: 'app@limited.test', to: `rate${i}@example.com` })));
    }
    const elapsedS = (Date.now() - started) / 1000;
    const ok = replies.filter((r) => r.status === 202);
    const limited = replies.filter((r) => r.status === 429);
    for (const r of ok) accepted.set(r.body.id, key);
    assert.ok(ok.length <= 8 + Math.ceil(2 * elapsedS) + 1, `${ok.length} granted in ${elapsedS}s`);
    assert.ok(limited.length >= 1, 'some sends were refused');
    for (const r of limited) {
      assert.equal(r.body.error.code, 'rate_limited');
      assert.equal(r.body.error.limit, 'tenant_send_rate');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    // Refused on edge A and on edge B alike.
    assert.ok(replies.some((r, i) => r.status === 429 && i % 2 === 0) && replies.some((r, i) => r.status === 429 && i % 2 === 1));
  });

  test("a message constrained to a region is leased only to that region's node", async () => {
    const ids: Array<{ id: string; region: string }> = [];
    for (const region of ['eu', 'us', 'eu', 'us']) {
      const res = await cluster.api(cluster.edges[0], 'POST', '/v1/messages', msg({ to: `r-${region}-${ids.length}@example.com`, constraints: { region } }));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      ids.push({ id: res.body.id, region });
      accepted.set(res.body.id, undefined);
    }
    for (const { id, region } of ids) {
      const view = await delivered(id);
      const leased = view.events.filter((e: { type: string }) => e.type === 'leased');
      assert.ok(leased.length >= 1);
      for (const e of leased) {
        assert.equal(e.data.region, region);
        assert.equal(e.data.node, `node-${region}`);
      }
    }
  });

  test('with no node in its region a message stays queued, with a waiting event that says why', async () => {
    const res = await cluster.api(cluster.edges[1], 'POST', '/v1/messages', msg({ to: 'nowhere@example.com', constraints: { region: 'ap' } }));
    assert.equal(res.status, 202);
    const view = await waitFor(async () => {
      const r = await cluster.api(cluster.edges[0], 'GET', `/v1/messages/${res.body.id}`);
      return r.body.events?.some((e: { type: string }) => e.type === 'waiting') ? r.body : null;
    }, 15_000, 'a waiting event');
    assert.equal(view.status, 'queued');
    const waiting = view.events.find((e: { type: string }) => e.type === 'waiting');
    assert.match(waiting.data.reason, /region ap/);
    assert.ok(!view.events.some((e: { type: string }) => e.type === 'leased'));
  });

  test('GET /v1/nodes lists the nodes of every region from either edge', async () => {
    for (const edge of cluster.edges) {
      const res = await cluster.api(edge, 'GET', '/v1/nodes');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.data.map((n: { node_id: string }) => n.node_id).sort(), ['node-eu', 'node-us']);
    }
  });

  test('a node token is checked before the socket is accepted', async () => {
    const status = (region: string, token: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${cluster.edges[0].port}/v1/nodes/connect?region=${region}`, { headers: { authorization: `Bearer ${token}` } });
        ws.on('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
        ws.on('open', () => (resolve(101), ws.close()));
        ws.on('error', () => resolve(-1));
      });
    assert.equal(await status('eu', 'plnode_wrong'), 401);
    assert.equal(await status('us', cluster.nodeTokens.eu), 403);
  });

  test('every accepted message (outside the empty region) was delivered; the replica has them too', async () => {
    for (const [id, key] of accepted) await delivered(id, key);
    const replica = createClient({ url: cluster.replica.url });
    try {
      await waitFor(async () => {
        const rows = await replica.execute("SELECT count(*) AS n FROM messages");
        return Number(rows.rows[0].n) >= accepted.size + 1;
      }, 10_000, 'the replica to catch up');
    } finally {
      replica.close();
    }
  });
});
