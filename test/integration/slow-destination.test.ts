/**
 * SPEC §8: a hostile or slow server costs only its own destination. A tarpit that drips an
 * endless multi-line greeting at one line a second holds the sessions to it, and the jobs
 * waiting for those sessions are given back to the hub unstarted (not counted as attempts),
 * so the node's capacity goes to other destinations: every message to the good receiver is
 * delivered while the tarpit's mail still waits.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startPlatform, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';
import type { MtaNode } from '../../mta-node/node.ts';

let sink: Sink;
let tarpit: net.Server;
let tarpitPort = 0;
const drips: NodeJS.Timeout[] = [];
const sockets = new Set<net.Socket>();
let p: Platform;
let node: MtaNode;

before(async () => {
  sink = await startSink();
  tarpit = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    // RFC 5321 §4.2.1 multi-line reply that never ends: `220-` one line a second.
    drips.push(setInterval(() => socket.write('220-please wait\r\n'), 1000));
  });
  await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
  tarpitPort = (tarpit.address() as net.AddressInfo).port;
  p = await startPlatform({ sinkPort: sink.port });
  node = await p.startNode({
    capacity: 20,
    limits: { maxConnections: 2 },
    routes: { 'tarpit.test': { host: '127.0.0.1', port: tarpitPort }, '*': { host: '127.0.0.1', port: sink.port } },
    // RFC 5321's generous stage timeouts: the tarpit is not cut short by them here.
    timeouts: { connectMs: 5_000, greetingMs: 300_000, commandMs: 300_000, dataMs: 600_000 },
    sessionWaitMs: 500,
    releaseDelayMs: 120_000,
    drainTimeoutMs: 1_000,
  });
  await node.whenConnected();
  assert.equal((await p.api('POST', '/v1/domains', { domain: 'slow.test' })).status, 201);
});

after(async () => {
  for (const d of drips) clearInterval(d);
  const closed = new Promise<void>((r) => tarpit.close(() => r()));
  for (const s of sockets) s.destroy();
  await closed;
  await p.stop();
  await sink.close();
});

test('40 messages to a tarpit ahead of 10 to a good receiver: the 10 arrive, the tarpit jobs are given back unstarted', async () => {
  const tarpitBatch = await p.api('POST', '/v1/messages/batch', {
    messages: Array.from({ length: 40 }, (_, i) => ({ from: 'a@slow.test', to: `t${i}@tarpit.test`, subject: `t${i}`, text: 'x' })),
  });
  assert.equal(tarpitBatch.status, 202, JSON.stringify(tarpitBatch.body));
  // The node fills up with tarpit jobs first.
  for (let i = 0; i < 100 && node.stats.leased < 20; i++) await new Promise((r) => setTimeout(r, 50));
  const good = await p.api('POST', '/v1/messages/batch', {
    messages: Array.from({ length: 10 }, (_, i) => ({ from: 'a@slow.test', to: `g${i}@good.test`, subject: `g${i}`, text: 'x' })),
  });
  assert.equal(good.status, 202);

  for (let i = 0; i < 600 && sink.mails.length < 10; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(sink.mails.length, 10, `good mail delivered while the tarpit holds its sessions (released ${node.stats.released})`);
  assert.ok(node.stats.released > 0, 'tarpit jobs were given back');

  const views = await Promise.all(tarpitBatch.body.data.map((m: { id: string }) => p.api('GET', `/v1/messages/${m.id}`)));
  const released = views.filter((v) => v.body.events.some((e: { type: string }) => e.type === 'lease_released'));
  assert.ok(released.length > 0, 'the trace says the lease was given back');
  for (const v of released) {
    const r = v.body.recipients[0];
    assert.ok(['queued', 'leased'].includes(r.state), `a given-back job waits (state ${r.state})`);
    assert.ok(r.attempts <= 1, `a given-back lease is not counted as an attempt (attempts ${r.attempts})`);
  }
});
