import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { MtaNode, type MtaNodeOptions } from '../../mta-node/node.ts';
import { PROTOCOL_VERSION, type DeliveryResult, type LeasedJob, type NodeToHub } from '../../shared/protocol.ts';
import { RAW, dkimKey, job, startHub, startSink, tmpDir, until, type FakeHub } from './helpers.ts';

function nodeOptions(hub: FakeHub, sinkPort: number, journalPath: string, extra: Partial<MtaNodeOptions> = {}): MtaNodeOptions {
  return {
    edge: hub.url,
    token: 'secret-token',
    region: 'eu',
    nodeId: 'node-a',
    ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'mta1.sender.test' }],
    capacity: 8,
    journalPath,
    routes: { '*': { host: '127.0.0.1', port: sinkPort } },
    timeouts: { connectMs: 1_000, greetingMs: 500, commandMs: 1_000, dataMs: 2_000 },
    dkimWorkers: 1,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    drainTimeoutMs: 2_000,
    ...extra,
  };
}

const resultsOf = (hub: FakeHub): DeliveryResult[] =>
  hub.frames.flatMap((f) => (f.type === 'results' ? f.results : []));

function lease(hub: FakeHub, jobs: LeasedJob[], keys = [] as ReturnType<typeof dkimKey>['key'][]) {
  hub.send({ type: 'lease', v: PROTOCOL_VERSION, jobs, messages: [{ messageId: 'msg1', raw: RAW }], keys });
}

test('lease flow: hello with bearer token, welcome, pull, lease, signed delivery, results, heartbeat, ack', async () => {
  const sink = await startSink();
  const hub = await startHub();
  const dir = tmpDir();
  const registry = new Registry();
  const node = new MtaNode(nodeOptions(hub, sink.port, join(dir.path, 'n.journal'), { registry }));
  try {
    await node.start();
    const hello = (await hub.next('hello')) as Extract<NodeToHub, { type: 'hello' }>;
    assert.equal(hub.authHeaders[0], 'Bearer secret-token');
    assert.equal(hello.nodeId, 'node-a');
    assert.equal(hello.capacity, 8);
    const pull = (await hub.next('pull')) as Extract<NodeToHub, { type: 'pull' }>;
    assert.equal(pull.credits, 8);
    const { key } = dkimKey('ed25519-sha256');
    const jobs = [job({ dkimDomain: key.domain, dkimKeyId: key.keyId }), job({ dkimDomain: key.domain, dkimKeyId: key.keyId }), job({ dkimDomain: key.domain, dkimKeyId: key.keyId })];
    lease(hub, jobs, [key]);
    await hub.next('heartbeat', (f) => f.type === 'heartbeat' && f.leaseIds.length > 0);
    await until(() => resultsOf(hub).length === 3, 3_000, 'three results');
    const results = resultsOf(hub);
    assert.deepEqual(results.map((r) => r.outcome), ['delivered', 'delivered', 'delivered']);
    assert.deepEqual(results.map((r) => r.jobId).sort(), jobs.map((j) => j.jobId).sort());
    assert.equal(sink.mails.length, 3);
    assert.ok(sink.mails.every((m) => m.raw.startsWith('DKIM-Signature:')));
    assert.equal(sink.connections <= 3, true);
    assert.equal(node.unackedResults().length, 3);
    hub.send({ type: 'ack', v: PROTOCOL_VERSION, jobIds: jobs.map((j) => j.jobId) });
    await until(() => node.unackedResults().length === 0, 2_000, 'acks recorded');
    // Capacity freed again: the node asks for more work.
    await until(() => hub.frames.filter((f) => f.type === 'pull').length >= 2, 2_000, 'second pull');
    assert.equal(node.stats.delivered, 3);
    assert.match(await registry.metrics(), /postlane_node_results_total\{outcome="delivered"\} 3/);
    assert.deepEqual(hub.badFrames, []);
  } finally {
    await node.stop();
    await hub.close();
    await sink.close();
    dir.cleanup();
  }
});

test('unacked results survive a restart and go out before the first pull; a re-leased delivered job is answered from the journal', async () => {
  const sink = await startSink();
  const dir = tmpDir();
  const journalPath = join(dir.path, 'n.journal');
  const hub1 = await startHub();
  const j = job();
  const node1 = new MtaNode(nodeOptions(hub1, sink.port, journalPath));
  try {
    await node1.start();
    await hub1.next('pull');
    lease(hub1, [j]);
    await until(() => resultsOf(hub1).length === 1, 3_000, 'first result');
    // No ack: a partition. The node stops.
  } finally {
    await node1.stop();
    await hub1.close();
  }
  assert.equal(sink.mails.length, 1);

  const hub2 = await startHub();
  const node2 = new MtaNode(nodeOptions(hub2, sink.port, journalPath));
  try {
    await node2.start();
    await hub2.next('pull');
    const kinds = hub2.frames.map((f) => f.type);
    assert.deepEqual(kinds.slice(0, 3), ['hello', 'results', 'pull'], 'results before the first pull');
    const resent = resultsOf(hub2);
    assert.equal(resent.length, 1);
    assert.equal(resent[0].jobId, j.jobId);
    assert.equal(resent[0].outcome, 'delivered');
    hub2.send({ type: 'ack', v: PROTOCOL_VERSION, jobIds: [j.jobId] });
    // The hub, not having seen the ack in time, leases the job again under a new lease.
    const again = { ...j, leaseId: 'lease-again', attempt: 2, leaseExpiresAt: Date.now() + 60_000 };
    lease(hub2, [again]);
    await until(() => resultsOf(hub2).some((r) => r.leaseId === 'lease-again'), 3_000, 'journal answer');
    const answered = resultsOf(hub2).find((r) => r.leaseId === 'lease-again')!;
    assert.equal(answered.fromJournal, true);
    assert.equal(answered.outcome, 'delivered');
    assert.equal(answered.dedupKey, j.dedupKey);
    assert.equal(sink.mails.length, 1, 'no second SMTP send');
    assert.equal(node2.stats.fromJournal, 1);
  } finally {
    await node2.stop();
    await hub2.close();
    await sink.close();
    dir.cleanup();
  }
});

test('expired leases are dropped unreported; bad frames are ignored; a fatal error frame leads to a reconnect', async () => {
  const sink = await startSink();
  const hub = await startHub();
  const dir = tmpDir();
  const node = new MtaNode(nodeOptions(hub, sink.port, join(dir.path, 'n.journal')));
  try {
    await node.start();
    await hub.next('pull');
    hub.socket!.send('not json');
    hub.socket!.send(JSON.stringify({ type: 'lease', v: 1, jobs: 'nope' }));
    lease(hub, [job({ leaseExpiresAt: Date.now() - 1 })]);
    await until(() => node.stats.dropped === 1, 2_000, 'dropped lease');
    assert.equal(resultsOf(hub).length, 0);
    assert.equal(sink.mails.length, 0);
    assert.equal(node.connected, true);
    hub.send({ type: 'error', v: PROTOCOL_VERSION, code: 'internal', message: 'going away', fatal: true });
    await until(() => hub.connections === 2 && node.connected, 3_000, 'reconnect');
    assert.equal(hub.frames.filter((f) => f.type === 'hello').length, 2);
  } finally {
    await node.stop();
    await hub.close();
    await sink.close();
    dir.cleanup();
  }
});

test('a source IP the hub did not accept is never used', async () => {
  const sink = await startSink();
  const hub = await startHub(undefined, { acceptedIps: [] });
  const dir = tmpDir();
  const node = new MtaNode(nodeOptions(hub, sink.port, join(dir.path, 'n.journal')));
  try {
    await node.start();
    await hub.next('pull');
    lease(hub, [job({ sourceIp: '127.0.0.1' })]);
    await until(() => resultsOf(hub).length === 1, 2_000, 'result');
    const r = resultsOf(hub)[0];
    assert.equal(r.outcome, 'deferred');
    assert.equal(r.stage, 'LOCAL');
    assert.match(r.error ?? '', /not accepted/);
    assert.equal(sink.mails.length, 0);
  } finally {
    await node.stop();
    await hub.close();
    await sink.close();
    dir.cleanup();
  }
});
