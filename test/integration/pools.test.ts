/**
 * Pools and source IPs as resources, as the hub obeys them: a registered IP serves the pool the
 * registry names; retiring it drains first (no new lease from the moment it is asked, its lease
 * in flight still counts) and then retires; a dedicated pool leases only its tenant's jobs, even
 * ones queued before it was assigned. Driven with a raw lease-protocol client so every lease is
 * seen as the hub sends it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { encodeFrame, parseHubFrame, PROTOCOL_VERSION, type HubToNode, type LeasedJob, type NodeToHub } from '../../shared/protocol.ts';

const as = (key: string) => ({ authorization: `Bearer ${key}` });

interface RawNode {
  frames: HubToNode[];
  send(frame: NodeToHub): void;
  leased(): LeasedJob[];
  close(): void;
}

async function rawNode(p: Platform, ips: Array<{ address: string; pool: string }>): Promise<RawNode> {
  const ws = new WebSocket(p.edge.wsUrl, { headers: { Authorization: `Bearer ${p.edge.nodeToken}` } });
  const frames: HubToNode[] = [];
  ws.on('message', (d) => {
    const parsed = parseHubFrame(String(d));
    assert.ok(parsed.ok);
    frames.push(parsed.frame);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const node: RawNode = {
    frames,
    send: (f) => ws.send(encodeFrame(f)),
    leased: () => frames.flatMap((f) => (f.type === 'lease' ? f.jobs : [])),
    close: () => ws.close(),
  };
  node.send({ type: 'hello', v: PROTOCOL_VERSION, nodeId: 'raw-pools', region: p.edge.region, version: 'test', ips: ips.map((ip) => ({ ...ip, ehlo: 'mta.test' })), capacity: 20 });
  await waitFor(() => frames.find((f) => f.type === 'welcome'), 5000, 'welcome');
  return node;
}

async function send(p: Platform, body: Record<string, unknown>, key?: string) {
  const res = await p.api('POST', '/v1/messages', { from: 'app@pools.test', to: ['someone@dest.test'], subject: 'hi', text: 'hello', ...body }, key ? as(key) : {});
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return (await p.edge.store.findMessageJobs(res.body.id))!.jobs[0];
}

/** Pulls until the hub leases `jobId`. */
async function leaseOf(node: RawNode, jobId: string) {
  node.send({ type: 'pull', v: PROTOCOL_VERSION, credits: 10 });
  return waitFor(() => node.leased().find((j) => j.jobId === jobId), 5000, `lease of ${jobId}`);
}

function delivered(job: LeasedJob) {
  const now = Date.now();
  return { jobId: job.jobId, leaseId: job.leaseId, dedupKey: job.dedupKey, outcome: 'delivered', reply: { code: 250, enhanced: '2.0.0', text: 'OK' }, error: null, stage: 'DATA', mx: '127.0.0.1:25', sourceIp: job.sourceIp ?? '127.0.0.2', tls: null, startedAt: now, finishedAt: now, fromJournal: false } as const;
}

describe('pools and source IPs as resources', () => {
  let p: Platform;
  let node: RawNode;
  let tenantA: { id: string; api_key: string };
  let tenantB: { id: string; api_key: string };

  before(async () => {
    p = await startPlatform({ env: { POSTLANE_LEASE_TTL_MS: '60000' } });
    await addDomain(p, 'pools.test');
    assert.equal((await p.api('POST', '/v1/pools', { name: 'p2', description: 'second pool' })).status, 201);
    assert.equal((await p.api('POST', '/v1/pools', { name: 'ded' })).status, 201);
    const put = await p.api('PUT', '/v1/ips/127.0.0.2', { pool: 'p2' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    // The node declares 127.0.0.3 for a pool the registry does not give it (yet).
    node = await rawNode(p, [
      { address: '127.0.0.1', pool: 'default' },
      { address: '127.0.0.2', pool: 'p2' },
      { address: '127.0.0.3', pool: 'spare' },
    ]);
    tenantA = (await p.api('POST', '/v1/tenants', { name: 'alpha' })).body;
    tenantB = (await p.api('POST', '/v1/tenants', { name: 'beta' })).body;
    for (const t of [tenantA, tenantB]) assert.equal((await p.api('POST', '/v1/domains', { domain: `${t.id.slice(-6)}.test` }, as(t.api_key))).status, 201);
  });
  after(async () => {
    node?.close();
    await p?.stop();
  });

  test('retire drains first: no new lease for the IP at once, retired once its lease in flight is done', async () => {
    const first = await send(p, { pool: 'p2' });
    const lease = await leaseOf(node, first.id);
    assert.equal(lease.pool, 'p2');
    assert.ok(lease.sourceIp === null || lease.sourceIp === '127.0.0.2');

    const draining = await p.api('POST', '/v1/ips/127.0.0.2/retire');
    assert.equal(draining.status, 202, JSON.stringify(draining.body));
    assert.equal(draining.body.status, 'draining');
    assert.equal(draining.body.leases_outstanding, 1);

    const held = await send(p, { pool: 'p2' });
    const other = await send(p, { pool: 'default' });
    // A round after `held` was queued claims `other` and must pass `held` by.
    const otherLease = await leaseOf(node, other.id);
    assert.equal(otherLease.pool, 'default');
    assert.ok(otherLease.sourceIp !== '127.0.0.2');
    assert.ok(!node.leased().some((j) => j.jobId === held.id), 'no lease for the draining IP');
    assert.equal((await p.edge.store.jobsByIds([held.id]))[0].state, 'queued');

    node.send({ type: 'results', v: PROTOCOL_VERSION, results: [delivered(lease)] });
    await waitFor(async () => (await p.edge.store.jobsByIds([first.id]))[0].state === 'delivered', 5000, 'first delivered');
    const retired = await p.api('POST', '/v1/ips/127.0.0.2/retire');
    assert.equal(retired.status, 200, JSON.stringify(retired.body));
    assert.equal(retired.body.status, 'retired');
    assert.equal(retired.body.leases_outstanding, 0);

    assert.equal((await p.api('PUT', '/v1/ips/127.0.0.2', { pool: 'default' })).status, 409, 'a retired IP stays retired');
    const ips = (await p.api('GET', '/v1/ips')).body.data;
    assert.equal(ips.find((ip: { address: string }) => ip.address === '127.0.0.2').status, 'retired');
    const log = (await p.api('GET', '/v1/audit?kind=source_ip&target=127.0.0.2')).body.data.map((e: { action: string }) => e.action);
    assert.deepEqual(log, ['source_ip.retire', 'source_ip.drain', 'source_ip.create']);
  });

  test('a dedicated pool leases only its tenant’s jobs, even ones queued before it was assigned', async () => {
    // While `ded` is shared, tenant B queues a job in it (no IP serves it yet).
    const early = await send(p, { from: `app@${tenantB.id.slice(-6)}.test`, pool: 'ded' }, tenantB.api_key);
    const assigned = await p.api('PATCH', '/v1/pools/ded', { tenant_id: tenantA.id });
    assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
    assert.equal(assigned.body.kind, 'dedicated');
    assert.equal(assigned.body.tenant_id, tenantA.id);

    const refused = await p.api('POST', '/v1/messages', { from: `app@${tenantB.id.slice(-6)}.test`, to: 'x@dest.test', subject: 's', text: 't', pool: 'ded' }, as(tenantB.api_key));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.field, 'pool');

    assert.equal((await p.api('PUT', '/v1/ips/127.0.0.3', { pool: 'ded' })).status, 201);
    const own = await send(p, { from: `app@${tenantA.id.slice(-6)}.test`, pool: 'ded' }, tenantA.api_key);
    const lease = await leaseOf(node, own.id);
    assert.equal(lease.pool, 'ded');
    assert.equal(lease.sourceIp, '127.0.0.3', 'the registry moved the IP: the hub names it');
    assert.ok(!node.leased().some((j) => j.jobId === early.id), "tenant B's job is never leased from A's pool");
    assert.equal((await p.edge.store.jobsByIds([early.id]))[0].state, 'queued');

    const seenByB = (await p.api('GET', '/v1/pools', undefined, as(tenantB.api_key))).body.data.map((x: { name: string }) => x.name);
    const seenByA = (await p.api('GET', '/v1/pools', undefined, as(tenantA.api_key))).body.data.map((x: { name: string }) => x.name);
    assert.ok(!seenByB.includes('ded') && seenByA.includes('ded'));
    assert.ok(seenByB.includes('default'));
    assert.equal((await p.api('POST', '/v1/pools', { name: 'mine' }, as(tenantA.api_key))).status, 403);
  });

  test('bad input: unknown pool, tenant or token; a pool with IPs is not deleted', async () => {
    assert.equal((await p.api('PUT', '/v1/ips/127.0.0.9', { pool: 'nope' })).body.error.field, 'pool');
    assert.equal((await p.api('PUT', '/v1/ips/not-an-ip', { pool: 'default' })).body.error.field, 'address');
    assert.equal((await p.api('PUT', '/v1/ips/127.0.0.9', { pool: 'default', node_token_id: 'ntk_nope' })).body.error.field, 'node_token_id');
    assert.equal((await p.api('POST', '/v1/pools', { name: 'x1', tenant_id: 'ten_nope' })).body.error.field, 'tenant_id');
    assert.equal((await p.api('POST', '/v1/pools', { name: 'p2' })).status, 409);
    assert.equal((await p.api('POST', '/v1/pools', { name: 'Bad Name' })).status, 400);
    assert.equal((await p.api('DELETE', '/v1/pools/ded')).status, 409);
    assert.equal((await p.api('POST', '/v1/pools', { name: 'empty' })).status, 201);
    assert.equal((await p.api('DELETE', '/v1/pools/empty')).status, 204);
    assert.equal((await p.api('DELETE', '/v1/pools/empty')).status, 404);
  });
});
