/**
 * The SMTP side of the bench: Postfix's smtp-sink (THE sink for raw and end-to-end runs, so the
 * ratio compares like with like) and smtp-source (the plain SMTP load generator). Installed with
 * lib/postfix-install.ts when missing; the Postfix daemon itself runs only as lib/postfix-relay.ts.
 * smtp-sink runs with -c and we read its running counters (`sess=N quit=N mesg=N`) from stdout.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { sleep, spawnBounded, stopChild } from './proc.ts';

/** Resolution of completion times read from the sink's counters. */
const POLL_MS = 10;

export const SMTP_SINK = '/usr/sbin/smtp-sink';
export const SMTP_SOURCE = '/usr/sbin/smtp-source';

export interface SmtpSink {
  port: number;
  /** Messages the sink has completed ('.' answered). */
  readonly count: number;
  /** Resolves with the time (epoch ms, Date.now()) the count was seen at `n` or more, or null at the deadline. */
  waitFor(n: number, timeoutMs: number): Promise<number | null>;
  stop(): Promise<void>;
}

export async function startSmtpSink(port: number, maxSeconds: number, dir: string): Promise<SmtpSink> {
  // As root smtp-sink insists on dropping privileges (-u).
  const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  // Counters go to a file we poll: a pipe would wake a reader in this process on every message.
  const outPath = join(dir, `smtp-sink-${port}.out`);
  const out = openSync(outPath, 'w');
  const child: ChildProcess = spawnBounded(maxSeconds, SMTP_SINK, [...asRoot, '-c', `127.0.0.1:${port}`, '1024'], out);
  closeSync(out);
  let count = 0;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const readCount = () => {
    let fd: number | null = null;
    try {
      fd = openSync(outPath, 'r');
      const size = fstatSync(fd).size;
      const len = Math.min(size, 256);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      // Counters are rewritten with CR after each event; the last complete one wins.
      const all = [...buf.toString('latin1').matchAll(/mesg=(\d+)/g)];
      if (all.length) count = Math.max(count, Number(all[all.length - 1][1]));
    } catch {
      // not written yet
    } finally {
      if (fd !== null) closeSync(fd);
    }
    return count;
  };
  // Ready when it accepts a TCP connection.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`smtp-sink did not start on port ${port}: ${stderr}`);
    await sleep(50);
  }
  return {
    port,
    get count() {
      return readCount();
    },
    async waitFor(n, timeoutMs) {
      const end = performance.now() + timeoutMs;
      for (;;) {
        if (readCount() >= n) return Date.now();
        if (performance.now() >= end || child.exitCode !== null) return null;
        await sleep(POLL_MS);
      }
    },
    stop: () => stopChild(child, 2_000),
  };
}

export interface SourceResult {
  messages: number;
  ms: number;
  perSec: number;
  reuse: boolean;
  sessions: number;
}

/**
 * smtp-source: `sessions` parallel sessions, `messages` in total, `bytes` of payload (plus its
 * few headers). reuse=true passes -d (next message over the same connection); otherwise every
 * message has its own connection (connect, EHLO, MAIL, RCPT, DATA, QUIT).
 */
export async function smtpSource(port: number, opts: { sessions: number; messages: number; bytes: number; reuse: boolean; maxSeconds: number }): Promise<SourceResult> {
  const args = ['-s', String(opts.sessions), '-m', String(opts.messages), '-l', String(opts.bytes), '-M', 'bench.test', '-f', 'bench@bench.test', '-t', 'sink@sink.test'];
  if (opts.reuse) args.push('-d');
  const t0 = performance.now();
  const child = spawnBounded(opts.maxSeconds, SMTP_SOURCE, [...args, `127.0.0.1:${port}`]);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  child.stdout!.resume();
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`smtp-source exited with ${code}: ${err}`);
  return { messages: opts.messages, ms, perSec: (opts.messages / ms) * 1000, reuse: opts.reuse, sessions: opts.sessions };
}
