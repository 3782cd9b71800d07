/**
 * Child processes of the bench: every process it starts is registered here and stopped on
 * normal exit, on error and on Ctrl-C. TypeScript children run under tsx with an IPC channel and
 * exit by themselves when the parent goes away (see children/ipc.ts); external binaries run
 * under coreutils `timeout` so even a SIGKILLed bench leaves nothing running for long.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();

export const CHILDREN_DIR = fileURLToPath(new URL('../children/', import.meta.url));

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** A TypeScript child under tsx with IPC; extra node flags (e.g. --cpu-prof) go first. */
export function spawnTs(script: string, opts: { env?: Record<string, string>; nodeFlags?: string[]; args?: string[] } = {}): ChildProcess {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', `${CHILDREN_DIR}${script}`, ...(opts.args ?? [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...opts.env },
  });
  return track(child);
}

/** An external program, bounded in time by `timeout` (SIGTERM, then SIGKILL 2 s later). */
export function spawnBounded(maxSeconds: number, cmd: string, args: string[], stdoutFd?: number): ChildProcess {
  const child = spawn('timeout', ['-k', '2', String(Math.ceil(maxSeconds)), cmd, ...args], { stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'] });
  return track(child);
}

/** The next IPC message of `type` from `child`, or an error on exit / timeout. */
export function nextMessage<T = any>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: any) => {
      if (m && m.type === 'error') return done(new Error(`child ${child.pid}: ${m.message}`));
      if (m && m.type === type) done(null, m);
    };
    const onExit = (code: number | null, signal: string | null) => done(new Error(`child ${child.pid} exited (${code ?? signal}) before sending ${type}`));
    const timer = setTimeout(() => done(new Error(`child ${child.pid}: no ${type} within ${timeoutMs} ms`)), timeoutMs);
    function done(err: Error | null, m?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m as T);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Resolves when `child` has exited; SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)));
}

/** Synchronous last resort (process 'exit'): SIGKILL whatever is left, by pid. */
export function killAllNow(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; loopback only). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
