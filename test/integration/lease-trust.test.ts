/**
 * What a node token may do to leases: results apply only to the live lease they answer (job,
 * lease id, owner), a node id is bound to its token with one live session, heartbeats extend
 * only the node's own leases and are answered with their new expiry (`extended`), which the
 * node uses to keep sending behind a slow receiver. Driven with real WebSocket clients holding
 * valid node tokens against the real edge.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { encodeFrame, parseHubFrame, PROTOCOL_VERSION, type HubToNode, type NodeToHub } from '../../shared/protocol.ts';
import { newId, sha256Hex } from '../../shared/ids.ts';

interface RawNode {
  frames: HubToNode[];
  closed: Promise<number>;
  send(frame: NodeToHub): void;
  next<T extends HubToNode['type']>(type: T, timeoutMs?: number): Promise<Extract<HubToNode, { type: T }>>;
  close(): void;
}

async function rawNode(p: Platform, token: string, nodeId: string | null): Promise<RawNode> {
  const ws = new WebSocket(p.edge.wsUrl, { headers: { Authorization: `Bearer ${token}` } });
  const frames: HubToNode[] = [];
  let seen = 0;
  ws.on('message', (d) => {
    const parsed = parseHubFrame(String(d));
    assert.ok(parsed.ok, `hub frame parses: ${String(d)}`);
    frames.push(parsed.frame);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const node: RawNode = {
    frames,
    closed,
    send: (f) => ws.send(encodeFrame(f)),
    async next(type, timeoutMs = 5_000) {
      const f = await waitFor(() => {
        const i = frames.findIndex((x, idx) => idx >= seen && x.type === type);
        if (i < 0) return null;
        seen = i + 1;
        return frames[i];
      }, timeoutMs, `${type} frame`);
      return f as never;
    },
    close: () => ws.close(),
  };
  if (nodeId) {
    node.send({ type: 'hello', v: PROTOCOL_VERSION, nodeId, region: p.edge.region, version: 'test', ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'mta.test' }], capacity: 10 });
    await node.next('welcome');
  }
  return node;
}

/** Pulls until the hub leases `jobId` to this node (earlier tests may leave other jobs queued). */
async function leaseOf(node: RawNode, jobId: string) {
  node.send({ type: 'pull', v: PROTOCOL_VERSION, credits: 10 });
  return waitFor(() => node.frames.flatMap((f) => (f.type === 'lease' ? f.jobs : [])).find((j) => j.jobId === jobId), 5_000, `lease of ${jobId}`);
}

/** A second node token of the same region, as an operator would mint it. */
async function mintToken(p: Platform, region = p.edge.region): Promise<string> {
  const token = `plnode_${newId('t')}`;
  await p.edge.store.createNodeToken({ id: newId('ntk'), tokenHash: await sha256Hex(token), region, allowedIps: ['*'], name: 'second', now: Date.now() });
  return token;
}

function result(jobId: string, leaseId: string, outcome: 'delivered' | 'bounced', extra: Partial<Record<string, unknown>> = {}) {
  const now = Date.now();
  return {
    jobId,
    leaseId,
    dedupKey: 'x',
    outcome,
    reply: outcome === 'delivered' ? { code: 250, enhanced: '2.0.0', text: 'OK' } : { code: 550, enhanced: '5.1.1', text: 'no such user' },
    error: null,
    stage: outcome === 'delivered' ? 'DATA' : 'RCPT TO',
    mx: '127.0.0.1:25',
    sourceIp: '127.0.0.1',
    tls: null,
    startedAt: now,
    finishedAt: now,
    fromJournal: false,
    ...extra,
  } as const;
}

async function send(p: Platform, to: string) {
  const res = await p.api('POST', '/v1/messages', { from: 'app@example.com', to: [to], subject: 'hi', text: 'hello' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const mj = await p.edge.store.findMessageJobs(res.body.id);
  return { messageId: res.body.id as string, job: mj!.jobs[0] };
}

async function jobOf(p: Platform, jobId: string) {
  const [j] = await p.edge.store.jobsByIds([jobId]);
  return j;
}

async function refusedMetric(p: Platform): Promise<number> {
  const res = await fetch(`${p.edge.url}/metrics`, { headers: { authorization: `Bearer ${p.edge.apiKey}` } });
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('postlane_hub_results_refused_total'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

describe('lease trust: results, node identity, heartbeats', () => {
  let p: Platform;

  before(async () => {
    p = await startPlatform({ env: { POSTLANE_LEASE_TTL_MS: '60000' } });
    await addDomain(p, 'example.com');
  });
  after(async () => {
    await p?.stop();
  });

  test('a result for a job never leased to the node is refused (acked, counted) and changes nothing', async () => {
    const { job } = await send(p, 'victim@dest.test');
    assert.equal(job.state, 'queued');
    const intruder = await rawNode(p, await mintToken(p), 'intruder-1');
    try {
      const before = await refusedMetric(p);
      intruder.send({ type: 'results', v: PROTOCOL_VERSION, results: [result(job.id, 'forged', 'delivered')] });
      assert.deepEqual((await intruder.next('ack')).jobIds, [job.id], 'acked so a journal does not resend it forever');
      intruder.send({ type: 'results', v: PROTOCOL_VERSION, results: [result(job.id, `intruder-1:1:${job.id}`, 'bounced')] });
      await intruder.next('ack');
      const now = await jobOf(p, job.id);
      assert.equal(now.state, 'queued', 'a forged result does not finish a queued job');
      const supp = await p.api('GET', '/v1/suppressions');
      assert.ok(!JSON.stringify(supp.body).includes('victim@dest.test'), 'a forged hard bounce suppresses nobody');
      assert.equal((await refusedMetric(p)) - before, 2);
    } finally {
      intruder.close();
    }
  });

  test("a result naming another node's live lease loses; the holder's own result applies", async () => {
    const holder = await rawNode(p, p.edge.nodeToken, 'holder-1');
    const other = await rawNode(p, await mintToken(p), 'other-1');
    try {
      const { job } = await send(p, 'held@dest.test');
      const leased = await leaseOf(holder, job.id);
      // Right job, right lease id, wrong node.
      other.send({ type: 'results', v: PROTOCOL_VERSION, results: [result(job.id, leased.leaseId, 'bounced')] });
      await other.next('ack');
      let now = await jobOf(p, job.id);
      assert.equal(now.state, 'leased');
      assert.equal(now.leaseOwner, 'holder-1');
      // The holder with a wrong lease id loses too.
      holder.send({ type: 'results', v: PROTOCOL_VERSION, results: [result(job.id, `${leased.leaseId}x`, 'bounced')] });
      await holder.next('ack');
      assert.equal((await jobOf(p, job.id)).state, 'leased');
      holder.send({ type: 'results', v: PROTOCOL_VERSION, results: [result(job.id, leased.leaseId, 'delivered')] });
      await holder.next('ack');
      now = await jobOf(p, job.id);
      assert.equal(now.state, 'delivered');
      const supp = await p.api('GET', '/v1/suppressions');
      assert.ok(!JSON.stringify(supp.body).includes('held@dest.test'));
    } finally {
      holder.close();
      other.close();
    }
  });

  test('a journaled result of the same node after its lease expired (not leased again) still applies', async () => {
    const node = await rawNode(p, p.edge.nodeToken, 'journal-1');
    try {
      const { job } = await send(p, 'late@dest.test');
      const leased = await leaseOf(node, job.id);
      node.close();
      // The lease runs out unreported; the sweeper returns the job to the queue.
      await p.edge.store.expireLeases(Date.now() + 120_000);
      assert.equal((await jobOf(p, job.id)).state, 'queued');
      const again = await rawNode(p, p.edge.nodeToken, 'journal-1');
      try {
        again.send({ type: 'results', v: PROTOCOL_VERSION, results: [result(job.id, leased.leaseId, 'delivered', { fromJournal: true })] });
        await again.next('ack');
        assert.equal((await jobOf(p, job.id)).state, 'delivered');
      } finally {
        again.close();
      }
    } finally {
      node.close();
    }
  });

  test("another token cannot say hello as a connected node, nor heartbeat its leases; the same token replaces the old session", async () => {
    const a = await rawNode(p, p.edge.nodeToken, 'ident-1');
    try {
      const { job } = await send(p, 'ident@dest.test');
      const leased = await leaseOf(a, job.id);

      const token = await mintToken(p);
      const impostor = await rawNode(p, token, null);
      impostor.send({ type: 'hello', v: PROTOCOL_VERSION, nodeId: 'ident-1', region: p.edge.region, version: 'x', ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'x.test' }], capacity: 1 });
      const err = await impostor.next('error');
      assert.equal(err.code, 'node_conflict');
      assert.equal(await impostor.closed, 4009);
      const nodes = (await p.api('GET', '/v1/nodes')).body;
      assert.equal(JSON.stringify(nodes).split('"ident-1"').length - 1, 1, `ident-1 listed once: ${JSON.stringify(nodes)}`);

      // Under its own id, the second token's heartbeat for ident-1's lease extends nothing.
      const other = await rawNode(p, token, 'ident-other');
      try {
        const expiresBefore = (await jobOf(p, job.id)).leaseExpiresAt;
        other.send({ type: 'heartbeat', v: PROTOCOL_VERSION, leaseIds: [leased.leaseId] });
        assert.deepEqual((await other.next('extended')).leases, []);
        assert.equal((await jobOf(p, job.id)).leaseExpiresAt, expiresBefore);
        // The holder's heartbeat extends it and says until when.
        a.send({ type: 'heartbeat', v: PROTOCOL_VERSION, leaseIds: [leased.leaseId] });
        const ext = await a.next('extended');
        assert.equal(ext.leases.length, 1);
        assert.equal(ext.leases[0].leaseId, leased.leaseId);
        assert.equal(ext.leases[0].leaseExpiresAt, (await jobOf(p, job.id)).leaseExpiresAt);
      } finally {
        other.close();
      }

      // The same token saying hello again as ident-1 (a restart) replaces the old session.
      const b = await rawNode(p, p.edge.nodeToken, 'ident-1');
      try {
        assert.equal(await a.closed, 4009);
        const nodes2 = (await p.api('GET', '/v1/nodes')).body;
        assert.equal(JSON.stringify(nodes2).split('"ident-1"').length - 1, 1);
      } finally {
        b.close();
      }
    } finally {
      a.close();
    }
  });
});

/** An smtp-server that answers each DATA after `delayMs`. */
async function slowSink(delayMs: number) {
  const mails: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      stream.on('data', () => {});
      stream.on('end', () => setTimeout(() => {
        mails.push(...session.envelope.rcptTo.map((r) => r.address));
        cb(null);
      }, delayMs));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('lease trust: heartbeat extensions reach the node', () => {
  let sink: Awaited<ReturnType<typeof slowSink>>;
  let p: Platform;

  before(async () => {
    // Each message takes ~2.5 s at the receiver, longer than the lease TTL.
    sink = await slowSink(2_500);
    p = await startPlatform({ sinkPort: sink.port, env: { POSTLANE_LEASE_TTL_MS: '1500', POSTLANE_HEARTBEAT_MS: '300' } });
    await addDomain(p, 'example.com');
  });
  after(async () => {
    await p?.stop();
    await sink?.close();
  });

  test('behind a slow receiver every message is delivered once, no lease is dropped, attempts stay 1', async () => {
    // One connection to the destination: the later messages wait behind the slow ones.
    const node = await p.startNode({
      limits: { maxConnections: 1 },
      providerLimits: { other: { maxConnections: 1 } },
      timeouts: { connectMs: 15_000, greetingMs: 15_000, commandMs: 15_000, dataMs: 15_000 },
    });
    const res = await p.api('POST', '/v1/messages', { from: 'app@example.com', to: ['s1@slow.test', 's2@slow.test', 's3@slow.test'], subject: 'slow', text: 'hello' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const view = await waitFor(async () => {
      const m = (await p.api('GET', `/v1/messages/${res.body.id}`)).body;
      return m.status === 'delivered' && m;
    }, 30_000, 'delivery').catch(async (e) => {
      console.log(JSON.stringify((await p.api('GET', `/v1/messages/${res.body.id}`)).body.events.slice(-8)), node.stats);
      throw e;
    });
    assert.equal(node.stats.dropped, 0, 'the node kept its extended leases');
    assert.deepEqual(sink.mails.sort(), ['s1@slow.test', 's2@slow.test', 's3@slow.test'], 'each message delivered once');
    const mj = await p.edge.store.findMessageJobs(res.body.id);
    assert.deepEqual(mj!.jobs.map((j) => j.attempts), [1, 1, 1]);
    const leasedEvents = view.events.filter((e: any) => e.type === 'leased' || e.type === 'lease_expired');
    assert.equal(leasedEvents.filter((e: any) => e.type === 'lease_expired').length, 0);
  });
});
