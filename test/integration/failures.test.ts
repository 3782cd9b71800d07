/**
 * Nothing acknowledged is lost (SPEC §8): a node killed mid-lease gives its jobs back when the
 * lease expires and another node delivers them; a restart of the platform keeps every 202'd
 * message; the store down answers 503 with Retry-After.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startPlatform, waitFor, addDomain } from '../helpers/platform.ts';
import { startSink } from '../mta-node/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A TCP server that accepts and never speaks: a tarpit that holds an SMTP client at greeting. */
async function startTarpit() {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    connections: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('a node killed mid-lease: its leases expire and a second node delivers', async () => {
  const sink = await startSink();
  const tarpit = await startTarpit();
  const p = await startPlatform({ env: { POSTLANE_LEASE_TTL_MS: '2000', POSTLANE_HEARTBEAT_MS: '300' } });
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'mta-node/main.ts', '--edge', p.edge.wsUrl, '--token', p.edge.nodeToken, '--region', p.edge.region, '--ip', '127.0.0.1=default', '--node-id', 'doomed', '--journal', `${p.dataDir}/doomed.journal`],
    { cwd: root, env: { ...process.env, POSTLANE_ROUTES: `*=127.0.0.1:${tarpit.port}`, POSTLANE_LOG_LEVEL: 'silent' }, stdio: 'ignore' },
  );
  try {
    await addDomain(p, 'example.com');
    await waitFor(async () => (await p.api('GET', '/v1/nodes')).body.data.length === 1, 15_000, 'child node to connect');
    const res = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'survivor@dest.test', subject: 'survive', text: 'x' });
    assert.equal(res.status, 202);
    await waitFor(() => tarpit.connections() > 0, 10_000, 'the doomed node to start the SMTP session');
    child.kill('SIGKILL');
    await once(child, 'exit');

    await p.startNode({ routes: { '*': { host: '127.0.0.1', port: sink.port } } });
    const view = await waitFor(async () => {
      const m = (await p.api('GET', `/v1/messages/${res.body.id}`)).body;
      return m.status === 'delivered' && m;
    }, 15_000, 'redelivery by the second node');
    const types = view.events.map((e: any) => e.type);
    assert.ok(types.includes('lease_expired'), types.join(','));
    const leases = view.events.filter((e: any) => e.type === 'leased').map((e: any) => e.data.node);
    assert.deepEqual(leases, ['doomed', 'node-1']);
    assert.equal(sink.mails.filter((m) => m.to.includes('survivor@dest.test')).length, 1);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await p.stop();
    await tarpit.close();
    await sink.close();
  }
});

test('every 202-acknowledged message survives a restart of the platform and is then delivered', async () => {
  const sink = await startSink();
  const p = await startPlatform({ sinkPort: sink.port });
  try {
    await addDomain(p, 'example.com');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: `r${i}@dest.test`, subject: `keep ${i}`, text: 'x' });
      assert.equal(res.status, 202);
      ids.push(res.body.id);
    }
    await p.restartEdge();
    for (const id of ids) assert.equal((await p.api('GET', `/v1/messages/${id}`)).body.status, 'queued');
    await p.startNode();
    await waitFor(async () => {
      const states = await Promise.all(ids.map(async (id) => (await p.api('GET', `/v1/messages/${id}`)).body.status));
      return states.every((s) => s === 'delivered');
    }, 15_000, 'all delivered after restart');
    assert.equal(sink.mails.length, 20);
  } finally {
    await p.stop();
    await sink.close();
  }
});

test('the store down: 503 with Retry-After, never 202, within the store timeout', async () => {
  const p = await startPlatform({ env: { POSTLANE_STORE_TIMEOUT_MS: '500' } });
  try {
    await addDomain(p, 'example.com');
    p.edge.client.close();
    const started = Date.now();
    const res = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'x@dest.test', subject: 's', text: 'x' });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'store_unavailable');
    assert.equal(res.headers.get('retry-after'), '1');
    assert.ok(Date.now() - started < 2000);
    assert.equal((await fetch(`${p.edge.url}/healthz`)).status, 503);
  } finally {
    await p.stop().catch(() => {});
  }
});
