/**
 * Process plumbing shared by the cluster's parts: the repo root, free ports, waiting for a
 * listener, tracking children (SIGKILLed on exit, so a crashed test run leaves nothing behind)
 * and prefixing their log lines.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, connect as tcpConnect, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export async function waitForPort(port: number, timeoutMs: number, what: string, child?: ChildProcess) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A process that died at start (bad flag, port taken) fails the start now, not at the deadline.
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}; run with --verbose for its log`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Children still running; killed on exit too, so a crashed test run leaves no sqld or node behind. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killProcess(child: ChildProcess | null, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Writes each line of `stream` to our stdout as `[name] line`. */
export function prefixLines(stream: NodeJS.ReadableStream | null | undefined, name: string) {
  let buf = '';
  stream?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      process.stdout.write(`[${name}] ${buf.slice(0, i)}\n`);
      buf = buf.slice(i + 1);
    }
  });
}

export function pipeLog(child: ChildProcess, name: string, verbose: boolean) {
  if (!verbose) {
    child.stdout?.resume();
    child.stderr?.resume();
    return;
  }
  for (const stream of [child.stdout, child.stderr]) prefixLines(stream, name);
}
