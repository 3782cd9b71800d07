/**
 * `npm run cluster` (dev/cluster/cli.ts) leaves nothing behind: a signal sent to the script's
 * process alone (not its process group, as a supervisor or `kill <pid>` does) stops sqld x2,
 * workerd x3 and both MTA nodes — once the cluster is up, and also half way through its start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes below `root` with their command names, from /proc. */
function descendants(root: number): Array<{ pid: number; comm: string }> {
  const procs = new Map<number, { ppid: number; comm: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      procs.set(Number(name), { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
    } catch {}
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const walk = (pid: number) => {
    for (const [child, p] of procs) if (p.ppid === pid) (out.push({ pid: child, comm: p.comm }), walk(child));
  };
  walk(root);
  return out;
}

async function until<T>(fn: () => T | null | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startScript(): { child: ChildProcess; output: () => string; exited: Promise<number | string> } {
  // Not detached: the test's own process group; the signal goes to this pid only.
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/cluster/cli.ts'], {
    cwd: ROOT,
    env: { ...process.env, CLUSTER_PORTS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
  return { child, output: () => out, exited };
}

async function assertAllGone(pids: number[], output: () => string) {
  await until(() => pids.every((p) => !alive(p)), 20_000, `children ${pids.filter(alive).join(', ')} to exit\n${output().slice(-2000)}`);
}

test('SIGINT to the script alone stops every child of a running cluster', { timeout: 180_000 }, async (t) => {
  const { child, output, exited } = startScript();
  t.after(() => {
    for (const { pid } of descendants(child.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    child.kill('SIGKILL');
  });
  const line = await until(() => /cluster ready (\{.*\})/.exec(output())?.[1], 150_000, `the ready line\n${output().slice(-2000)}`);
  const ready = JSON.parse(line) as { pid: number; children: number[] };
  assert.equal(ready.pid, child.pid);
  const named = descendants(child.pid!);
  const count = (comm: string) => named.filter((p) => p.comm === comm).length;
  assert.equal(count('sqld'), 2, JSON.stringify(named));
  assert.equal(count('workerd'), 3, JSON.stringify(named));
  assert.ok(count('node') >= 2, `two MTA node processes: ${JSON.stringify(named)}`);
  for (const p of named) assert.ok(ready.children.includes(p.pid), `ready line lists ${p.comm} ${p.pid}`);

  process.kill(child.pid!, 'SIGINT');
  assert.equal(await exited, 130, output().slice(-2000));
  await assertAllGone(ready.children, output);
});

test('SIGTERM to the script half way through its start stops what had started', { timeout: 180_000 }, async (t) => {
  const { child, output, exited } = startScript();
  const seen = new Set<number>();
  t.after(() => {
    for (const pid of seen) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    child.kill('SIGKILL');
  });
  // Both sqld are up and workerd is starting: the middle of startCluster().
  await until(() => {
    const now = descendants(child.pid!);
    for (const p of now) if (p.comm !== 'esbuild') seen.add(p.pid);
    return now.filter((p) => p.comm === 'sqld').length === 2 && now.some((p) => p.comm === 'workerd');
  }, 150_000, `sqld and workerd to start\n${output().slice(-2000)}`);
  process.kill(child.pid!, 'SIGTERM');
  assert.equal(await exited, 143, output().slice(-2000));
  assert.doesNotMatch(output(), /cluster ready/);
  await assertAllGone([...seen], output);
});
