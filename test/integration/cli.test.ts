/**
 * The `postlane` CLI as a user runs it (an async child process against the embedded platform):
 * a 10,000-row CSV sent with --json progress, killed mid-run and resumed, ends with exactly
 * 10,000 accepted messages and no duplicates; status, trace and dlq list; exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { smtpError, startSink } from '../mta-node/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ROWS = 10_000;

interface Run {
  lines: any[];
  code: Promise<number | null>;
  kill(): void;
  stderr(): string;
}

/** Runs the CLI through its npm bin shim, with the URL and key from the environment. */
function cli(p: Platform, args: string[], onLine?: (line: any, run: Run) => void): Run {
  const child = spawn(process.execPath, [join(root, 'bin/postlane.mjs'), ...args], {
    cwd: root,
    env: { ...process.env, POSTLANE_URL: p.edge.url, POSTLANE_API_KEY: p.edge.apiKey, POSTLANE_CONFIG: join(p.dataDir, 'no-profile.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const run: Run = {
    lines: [],
    code: once(child, 'exit').then(([code]) => code as number | null),
    kill: () => child.kill('SIGKILL'),
    stderr: () => err,
  };
  createInterface({ input: child.stdout }).on('line', (l) => {
    let parsed: any = l;
    try {
      parsed = JSON.parse(l);
    } catch {}
    run.lines.push(parsed);
    onLine?.(parsed, run);
  });
  return run;
}

async function finished(run: Run) {
  const code = await run.code;
  // Let readline deliver the last lines.
  await new Promise((r) => setImmediate(r));
  return code;
}

test('the CLI: send, status, trace, dlq list, exit codes', async () => {
  const sink = await startSink({ onRcpt: (to) => (to.startsWith('dead') ? smtpError(554, '5.0.0 transaction failed') : null) });
  const p = await startPlatform({ sinkPort: sink.port });
  try {
    await addDomain(p, 'example.com');
    const node = await p.startNode();
    const file = join(p.dataDir, 'one.json');
    writeFileSync(file, JSON.stringify({ from: 'a@example.com', to: 'dead@dest.test', subject: 'one', text: 'x' }));
    const sent = cli(p, ['--json', 'send', file]);
    assert.equal(await finished(sent), 0, sent.stderr());
    const id = sent.lines[0].id;
    await waitFor(async () => (await p.api('GET', `/v1/messages/${id}`)).body.status === 'bounced', 15_000, 'the bounce');

    const status = cli(p, ['--json', 'status', id]);
    assert.equal(await finished(status), 0, status.stderr());
    assert.equal(status.lines[0].status, 'bounced');
    const trace = cli(p, ['trace', id]);
    assert.equal(await finished(trace), 0, trace.stderr());
    assert.match(trace.lines[0], /^SEQ\s+AT\s+TYPE/);
    assert.ok(trace.lines.some((l) => /\baccepted\b/.test(l)) && trace.lines.some((l) => /\bbounced\b/.test(l)), trace.lines.join('\n'));
    const dlq = cli(p, ['--json', 'dlq', 'list', '--domain', 'dest.test']);
    assert.equal(await finished(dlq), 0, dlq.stderr());
    assert.deepEqual(dlq.lines[0].data.map((d: any) => d.recipient), ['dead@dest.test']);
    const table = cli(p, ['dlq', 'list']);
    assert.equal(await finished(table), 0);
    assert.match(table.lines[1], /dead@dest\.test\s+bounced/);

    const unknown = cli(p, ['status', 'msg_nope']);
    assert.equal(await finished(unknown), 1, 'an API error exits 1');
    assert.match(unknown.stderr(), /API 404/);
    const usage = cli(p, ['send', '--batch']);
    assert.equal(await finished(usage), 2, 'bad usage exits 2');
    await node.stop();
  } finally {
    await p.stop();
    await sink.close();
  }
});

test('a 10,000-row CSV batch, killed mid-run and resumed, is accepted exactly once', async () => {
  const p = await startPlatform();
  try {
    await addDomain(p, 'example.com');
    // A first send this large would be held as a rogue batch (it is still accepted); this test is about the CLI.
    assert.equal((await p.api('PUT', '/v1/policies', { defaults: { quota: { rogue: null } } })).status, 200);
    const csv = join(p.dataDir, 'rows.csv');
    const rows = ['to,name'];
    for (let i = 0; i < ROWS; i++) rows.push(`user${i}@dest.test,"User ${i}, the ${i % 7 === 0 ? '""lucky""' : 'usual'} one"`);
    writeFileSync(csv, `${rows.join('\n')}\n`);
    const args = ['--json', 'send', '--batch', csv, '--from', 'a@example.com', '--subject', 'Hello {{name}}', '--text', 'Dear {{name}}'];

    let killedAt = 0;
    const first = cli(p, args, (line, run) => {
      if (line.event === 'progress' && line.accepted >= 3000 && !killedAt) {
        killedAt = line.accepted;
        run.kill();
      }
    });
    await finished(first);
    assert.ok(killedAt >= 3000 && killedAt < ROWS, `killed at ${killedAt}`);
    assert.equal(first.lines[0].event, 'start');

    const second = cli(p, args);
    assert.equal(await finished(second), 0, second.stderr());
    assert.equal(second.lines[0].event, 'resume');
    assert.equal(second.lines[0].run_id, first.lines[0].run_id, 'the same run, from the state file');
    assert.ok(second.lines[0].accepted >= killedAt);
    const done = second.lines.at(-1);
    assert.equal(done.event, 'done');
    assert.equal(done.accepted, ROWS);
    assert.equal(done.failed, 0);
    const progress = second.lines.filter((l) => l.event === 'progress').map((l) => l.accepted);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only grows');

    const count = async (sql: string) => Number((await p.edge.client.execute(sql)).rows[0][0]);
    assert.equal(await count('SELECT count(*) FROM messages'), ROWS);
    assert.equal(await count('SELECT count(DISTINCT recipient) FROM delivery_jobs'), ROWS);
    const view = (await p.api('GET', '/v1/messages?limit=1')).body.data[0];
    assert.match(view.subject, /^Hello User \d+, the ("lucky"|usual) one$/);
  } finally {
    await p.stop();
  }
});
