/**
 * The Worker as the edge, under the cluster (workerd + sqld): the lease hubs shape leases with
 * the operator's policy from the POSTLANE_SHAPING_POLICY var and budgets in the RateCounter objects,
 * GET /v1/reputation answers with every region's state, and a burst of concurrent batch sends
 * through both edges is accepted (a smoke test: the sqld stall it guards against is probabilistic
 * and does not reproduce on every run; test/unit/write-gate.test.ts pins the gate itself).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../../dev/cluster/index.ts';
import { waitFor } from '../helpers/platform.ts';

/** Gmail at 60/min (burst 1) per pool and per IP; everything else effectively unshaped. */
const POLICY = {
  default: { ratePerIp: '600000/min', ratePerPool: '600000/min' },
  providers: {
    gmail: { shaping: { ratePerIp: '60/min', ratePerPool: '60/min' } },
    corpmail: { domains: ['corp.example'], shaping: { ratePerIp: '600/min' } },
  },
};

let cluster: Cluster;

describe('cluster: the Worker edge shapes, reports reputation, takes load', { timeout: 180_000 }, () => {
  before(async () => {
    cluster = await startCluster({ vars: { POSTLANE_SHAPING_POLICY: JSON.stringify(POLICY), POSTLANE_TENANT_RATE: '100000', POSTLANE_TENANT_BURST: '100000' } });
    const dom = await cluster.api(cluster.edges[0], 'POST', '/v1/domains', { domain: 'sender.test' });
    assert.equal(dom.status, 201, JSON.stringify(dom.body));
  });

  after(async () => {
    await cluster?.stop();
  });

  test('leases are shaped in workerd: held-back jobs carry a throttled event naming the bucket, then go at its pace', async () => {
    const to = ['a', 'b', 'c', 'd'].map((n) => `${n}-${Date.now()}@gmail.com`);
    const res = await cluster.api(cluster.edges[1], 'POST', '/v1/messages', { from: 'app@sender.test', to, subject: 'shaped', text: 'hi' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const view = async () => (await cluster.api(cluster.edges[0], 'GET', `/v1/messages/${res.body.id}`)).body;
    const held = await waitFor(async () => {
      const v = await view();
      return v.events.find((e: { type: string }) => e.type === 'throttled') ?? null;
    }, 20_000, 'a throttled event');
    assert.match(held.data.limit, /^provider_(pool|ip):gmail:default$/);
    assert.match(held.data.reason, /gmail/);
    assert.ok(Date.parse(held.data.next_attempt_at) > Date.parse(held.at), 'says when it may go');

    const done = await waitFor(async () => {
      const v = await view();
      return v.status === 'delivered' ? v : null;
    }, 40_000, 'all four delivered');
    // 1/s with a burst of 1, shared by both regions' hubs through the RateCounter objects: four
    // leases span at least ~3 s however the two hubs interleave (slowness only spreads them more).
    const leases = done.events.filter((e: { type: string }) => e.type === 'leased').map((e: { at: string }) => Date.parse(e.at)).sort((x: number, y: number) => x - y);
    assert.equal(leases.length, 4);
    assert.ok(leases[3] - leases[0] >= 2_500, `four Gmail leases within ${leases[3] - leases[0]} ms`);
    for (const r of to) assert.equal(cluster.sink.mails.filter((m) => m.to.includes(r)).length, 1, `${r} delivered once`);
  });

  test('the Worker edge assigns providers from the POSTLANE_SHAPING_POLICY table, operator-defined ones included', async () => {
    const res = await cluster.api(cluster.edges[0], 'POST', '/v1/messages', { from: 'app@sender.test', to: ['x@corp.example', 'y@gmail.com'], subject: 'providers', text: 'hi' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const view = (await cluster.api(cluster.edges[1], 'GET', `/v1/messages/${res.body.id}`)).body;
    assert.deepEqual(Object.fromEntries(view.recipients.map((r: { recipient: string; provider: string }) => [r.recipient, r.provider])), { 'x@corp.example': 'corpmail', 'y@gmail.com': 'gmail' });
  });

  test('GET /v1/reputation answers on the Worker with each region hub\'s shaping state', async () => {
    for (const edge of cluster.edges) {
      const res = await cluster.api(edge, 'GET', '/v1/reputation');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const gmail = res.body.rates.filter((r: { provider: string }) => r.provider === 'gmail');
      assert.ok(gmail.length >= 1, `a gmail rate: ${JSON.stringify(res.body.rates)}`);
      for (const r of gmail) {
        assert.ok(cluster.regions.includes(r.region), `rate tagged with its region: ${JSON.stringify(r)}`);
        assert.equal(r.pool, 'default');
        assert.ok(r.rate_per_min <= 60, `the policy's 60/min caps it: ${r.rate_per_min}`);
      }
      assert.ok(Array.isArray(res.body.breakers) && Array.isArray(res.body.suspended_ips) && Array.isArray(res.body.events));
    }
  });

  // Counts, not timing: under load sqld's write lock can answer 503 (nothing accepted, the
  // contract says retry with the same key). Every batch ends accepted exactly once; how many
  // needed a retry is a bench figure (issue: cluster ingest), logged here.
  test('a burst of concurrent batch sends through both edges is accepted whole, exactly once, retried with its key', async () => {
    const runId = `burst-${Date.now()}`;
    const send = (k: number) =>
      cluster.api(cluster.edges[k % 2], 'POST', '/v1/messages/batch', {
        messages: Array.from({ length: 100 }, (_, i) => ({ from: 'app@sender.test', to: `${runId}-${k}-${i}@example.com`, subject: `burst ${k}`, text: 'x'.repeat(3000) })),
      }, { 'Idempotency-Key': `${runId}-${k}` });
    let retries = 0;
    const replies = await Promise.all(
      Array.from({ length: 32 }, async (_, k) => {
        for (let attempt = 0; ; attempt++) {
          const r = await send(k);
          if (r.status !== 503 || attempt >= 20) return r;
          retries++;
          await new Promise((res) => setTimeout(res, 200 * (attempt + 1)));
        }
      }),
    );
    const statuses = replies.map((r) => r.status);
    assert.deepEqual(statuses, statuses.map(() => 202), `statuses ${statuses.join(' ')}; first error ${JSON.stringify(replies.find((r) => r.status !== 202)?.body)}`);
    const ids = replies.flatMap((r) => r.body.data.map((m: { id: string }) => m.id));
    assert.equal(new Set(ids).size, 3200, 'each batch accepted once: a retry replays the first answer');
    if (retries) console.log(`burst: ${retries} retries after 503`);
    // And the store is still writable afterwards (a stalled sqld would time out here).
    const after = await cluster.api(cluster.edges[0], 'POST', '/v1/messages', { from: 'app@sender.test', to: `${runId}-after@example.com`, subject: 'after', text: 'x' });
    assert.equal(after.status, 202, JSON.stringify(after.body));
  });
});
