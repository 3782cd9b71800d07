/**
 * The MTA node as a service: `postlane node` (the CLI) runs it with the node's own flags; its
 * status port answers /healthz, /readyz (ready once the hub welcomed it) and /metrics; SIGTERM
 * drains and says so in its log, then exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPlatform, waitFor } from '../helpers/platform.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('postlane node: health, readiness and metrics on its status port; SIGTERM drains, logged', async () => {
  const p = await startPlatform();
  const child = spawn(
    process.execPath,
    [join(root, 'bin/postlane.mjs'), 'node', '--edge', p.edge.wsUrl, '--region', p.edge.region, '--ip', '127.0.0.1=default', '--node-id', 'svc-1', '--journal', join(p.dataDir, 'svc.journal'), '--status-port', '0'],
    { cwd: root, env: { ...process.env, POSTLANE_NODE_TOKEN: p.edge.nodeToken, POSTLANE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const logs: any[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l));
    } catch {}
  });
  const exited = once(child, 'exit');
  try {
    const started = await waitFor(() => logs.find((l) => l.msg === 'MTA node started'), 20_000, 'the node to start');
    const status = started.status as string;
    assert.match(status, /^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(async () => (await fetch(`${status}/readyz`)).status === 200, 20_000, 'readiness');
    assert.deepEqual(await (await fetch(`${status}/readyz`)).json(), { ok: true, hub: 'connected' });
    assert.equal((await fetch(`${status}/healthz`)).status, 200);
    assert.match(await (await fetch(`${status}/metrics`)).text(), /postlane_node_/);
    assert.equal((await p.api('GET', '/v1/nodes')).body.data[0].node_id, 'svc-1');

    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    const messages = logs.map((l) => l.msg);
    const stopping = messages.findIndex((m) => /^stopping: no new leases/.test(m));
    const drained = messages.indexOf('drained: no delivery in flight');
    const stopped = messages.indexOf('MTA node stopped');
    assert.ok(stopping >= 0 && stopping < drained && drained < stopped, messages.join(' | '));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await p.stop();
  }
});
