/**
 * Faults in cluster mode, with real processes killed: an MTA node mid-lease, one edge instance,
 * the sqld primary. Across all of them every message that got a 202 is delivered.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitForNodes, type Cluster } from '../../dev/cluster/index.ts';
import { waitFor } from '../helpers/platform.ts';

let cluster: Cluster;
const accepted = new Set<string>();
/** Recipients whose first RCPT the sink holds for 10 s: a node is busy with them when killed. */
const slowOnce = new Set<string>();

const msg = (over: Record<string, unknown> = {}) => ({ from: 'app@sender.test', to: 'someone@example.com', subject: 'fault', text: 'hello', ...over });

async function send(edgeIndex: number, over: Record<string, unknown> = {}) {
  const res = await cluster.api(cluster.edges[edgeIndex], 'POST', '/v1/messages', msg(over));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  accepted.add(res.body.id);
  return res.body.id as string;
}

async function view(id: string) {
  const edge = cluster.edges.find((e) => e.running)!;
  const res = await cluster.api(edge, 'GET', `/v1/messages/${id}`);
  return res.status === 200 ? res.body : null;
}

async function delivered(id: string, timeoutMs = 20_000) {
  return waitFor(async () => {
    const v = await view(id).catch(() => null);
    return v?.status === 'delivered' ? v : null;
  }, timeoutMs, `message ${id} delivered`);
}

describe('cluster faults', { timeout: 150_000 }, () => {
  before(async () => {
    cluster = await startCluster({
      sinkDelay: (rcpt) => (rcpt.startsWith('slow-') && !slowOnce.has(rcpt) ? (slowOnce.add(rcpt), 10_000) : 0),
    });
    const dom = await cluster.api(cluster.edges[0], 'POST', '/v1/domains', { domain: 'sender.test' });
    assert.equal(dom.status, 201, JSON.stringify(dom.body));
  });

  after(async () => {
    await cluster?.stop();
  });

  test('a node killed mid-lease: its job is re-leased to the other node and delivered', async () => {
    const id = await send(0, { to: 'slow-1@example.com' });
    const first = await waitFor(async () => (await view(id))?.events.find((e: { type: string }) => e.type === 'leased'), 10_000, 'the first lease');
    const holder = cluster.nodes.get(first.data.node)!;
    await new Promise((r) => setTimeout(r, 300)); // the node is now waiting on the sink's RCPT reply
    await holder.kill('SIGKILL');
    const done = await delivered(id, 20_000);
    const leases = done.events.filter((e: { type: string }) => e.type === 'leased');
    assert.ok(done.events.some((e: { type: string }) => e.type === 'lease_expired'), 'the dead node’s lease expired');
    assert.notEqual(leases.at(-1).data.node, holder.nodeId, 're-leased to another node');
    assert.equal(cluster.sink.mails.filter((m) => m.to.includes('slow-1@example.com')).length, 1);
    // Bring the region back for the next scenarios.
    await cluster.startNode({ region: holder.region, nodeId: `${holder.nodeId}-2` });
    await waitForNodes(cluster, [`${holder.nodeId}-2`]);
  });

  test('one edge instance killed: nodes reconnect through the other and delivery continues', async () => {
    const [a, b] = cluster.edges;
    await a.kill();
    const ids = [await send(1, { to: 'after-edge-kill-1@example.com' }), await send(1, { to: 'after-edge-kill-2@example.com', constraints: { region: 'eu' } }), await send(1, { to: 'after-edge-kill-3@example.com', constraints: { region: 'us' } })];
    for (const id of ids) await delivered(id, 20_000);
    const nodes = await cluster.api(b, 'GET', '/v1/nodes');
    assert.deepEqual(new Set(nodes.body.data.map((n: { region: string }) => n.region)), new Set(['eu', 'us']));
    // The sockets that ran through the dead edge are gone from the hubs, not left as ghosts.
    const sessions = nodes.body.data.map((n: { node_id: string }) => n.node_id);
    assert.equal(new Set(sessions).size, sessions.length, `one session per node: ${sessions.join(', ')}`);
    await a.start();
    await send(0, { to: 'edge-a-back@example.com' });
  });

  test('sqld primary killed: 503 with Retry-After within ~1 s on both edges, never 202; recovers by itself', async () => {
    await cluster.primary.kill();
    const deadline = Date.now() + 3000;
    let tries = 0;
    while (Date.now() < deadline) {
      for (const edge of cluster.edges) {
        const started = Date.now();
        const res = await cluster.api(edge, 'POST', '/v1/messages', msg({ to: `outage-${tries}@example.com` }), { 'Idempotency-Key': `outage-${tries}` });
        const took = Date.now() - started;
        assert.equal(res.status, 503, `got ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'store_unavailable');
        assert.ok(Number(res.headers.get('retry-after')) >= 1);
        assert.ok(took < 1600, `answered in ${took} ms`);
        tries++;
      }
    }
    const health = await cluster.api(cluster.edges[1], 'GET', '/healthz');
    assert.equal(health.status, 503);

    await cluster.primary.start();
    // The client retries with the same Idempotency-Key; it goes through once the store is back.
    const back = await waitFor(async () => {
      const res = await cluster.api(cluster.edges[0], 'POST', '/v1/messages', msg({ to: 'outage-retry@example.com' }), { 'Idempotency-Key': 'outage-0' });
      return res.status === 202 ? res : null;
    }, 15_000, 'the API to accept again');
    accepted.add(back.body.id);
    await delivered(back.body.id);
  });

  test('every message that got a 202 was delivered, exactly once at the sink', async () => {
    for (const id of accepted) {
      const v = await delivered(id);
      for (const r of v.recipients) {
        assert.equal(cluster.sink.mails.filter((m) => m.to.includes(r.recipient)).length, 1, `${r.recipient} delivered once`);
      }
    }
  });
});
