/**
 * The node's local journal: an append-only JSONL file of the results it produced and the acks
 * it received. Results are appended and fsync'd before they are reported, so after a crash or a
 * partition the node knows (1) which results the hub never acknowledged — they are sent again
 * before new work — and (2) which dedup keys already ended delivered or bounced, so a job leased
 * again is answered from the journal instead of being sent twice.
 *
 * Lines: {"t":"r","r":DeliveryResult} and {"t":"a","ids":[jobId,…],"at":ms}.
 */
import { mkdir, open, rename, stat, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as v from 'valibot';
import { DeliveryResultSchema, type DeliveryResult } from '../shared/protocol.ts';
import type { Logger } from './log.ts';

export interface JournalOptions {
  path: string;
  /** Compact when the file grows past this many bytes. */
  maxBytes?: number;
  /** Terminal (delivered/bounced) dedup entries kept across compactions. */
  keepTerminal?: number;
  /** fdatasync after each append (default true; tests of throughput may turn it off). */
  fsync?: boolean;
  logger?: Logger;
}

const resultKey = (r: DeliveryResult) => `${r.jobId}\u0000${r.leaseId}`;

export class Journal {
  private fh: FileHandle | null = null;
  private bytes = 0;
  /** Results not yet acknowledged, in journal order, by jobId+leaseId. */
  private readonly unacked = new Map<string, DeliveryResult>();
  /** dedupKey → the terminal result that ended it (insertion order = age). */
  private readonly terminal = new Map<string, DeliveryResult>();
  private readonly maxBytes: number;
  private readonly keepTerminal: number;
  private readonly fsync: boolean;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: JournalOptions) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.keepTerminal = opts.keepTerminal ?? 200_000;
    this.fsync = opts.fsync ?? true;
  }

  /** Opens the file and rebuilds the state from it; a torn last line (crash mid-write) is skipped. */
  async open(): Promise<void> {
    await mkdir(dirname(this.opts.path), { recursive: true });
    let text = '';
    try {
      text = await readFile(this.opts.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let bad = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let entry: { t?: string; r?: unknown; ids?: unknown };
      try {
        entry = JSON.parse(line);
      } catch {
        bad++;
        continue;
      }
      if (entry.t === 'r') {
        const parsed = v.safeParse(DeliveryResultSchema, entry.r);
        if (parsed.success) this.applyResult(parsed.output);
        else bad++;
      } else if (entry.t === 'a' && Array.isArray(entry.ids)) {
        this.applyAck(entry.ids.filter((x): x is string => typeof x === 'string'));
      } else bad++;
    }
    if (bad) this.opts.logger?.warn({ bad, path: this.opts.path }, 'journal: skipped unreadable lines');
    this.fh = await open(this.opts.path, 'a');
    this.bytes = (await stat(this.opts.path)).size;
    if (text.length && !text.endsWith('\n')) await this.write('\n');
  }

  private applyResult(r: DeliveryResult): void {
    this.unacked.set(resultKey(r), r);
    if (r.outcome !== 'deferred' && r.dedupKey) {
      this.terminal.delete(r.dedupKey);
      this.terminal.set(r.dedupKey, r);
    }
  }

  private applyAck(jobIds: string[]): number {
    const ids = new Set(jobIds);
    let n = 0;
    for (const [k, r] of this.unacked) {
      if (ids.has(r.jobId)) {
        this.unacked.delete(k);
        n++;
      }
    }
    return n;
  }

  private async write(text: string): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error('journal is not open');
    await fh.write(text);
    if (this.fsync) await fh.datasync();
    this.bytes += Buffer.byteLength(text);
  }

  /** Serialises file operations so appends and compaction never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Appends results and syncs them to disk; resolves once they are durable. */
  appendResults(results: DeliveryResult[]): Promise<void> {
    if (results.length === 0) return Promise.resolve();
    return this.serial(async () => {
      await this.write(results.map((r) => JSON.stringify({ t: 'r', r })).join('\n') + '\n');
      for (const r of results) this.applyResult(r);
      await this.maybeCompact();
    });
  }

  /** Records an ack from the hub. Acks need no fsync: a lost ack only means a resend. */
  markAcked(jobIds: string[]): Promise<number> {
    return this.serial(async () => {
      const n = this.applyAck(jobIds);
      if (n > 0) {
        await this.fh?.write(JSON.stringify({ t: 'a', ids: jobIds, at: Date.now() }) + '\n');
        this.bytes += 40 + jobIds.length * 24;
      }
      await this.maybeCompact();
      return n;
    });
  }

  /** Results the hub has not acknowledged, oldest first. */
  unackedResults(): DeliveryResult[] {
    return [...this.unacked.values()];
  }

  /** The delivered or bounced result recorded for a dedup key, if any. */
  terminalFor(dedupKey: string): DeliveryResult | null {
    return this.terminal.get(dedupKey) ?? null;
  }

  get size(): number {
    return this.bytes;
  }

  private async maybeCompact(): Promise<void> {
    if (this.bytes < this.maxBytes) return;
    await this.compactNow();
  }

  /** Rewrites the file with the unacked results and the newest terminal entries; atomic rename. */
  compact(): Promise<void> {
    return this.serial(() => this.compactNow());
  }

  private async compactNow(): Promise<void> {
    while (this.terminal.size > this.keepTerminal) this.terminal.delete(this.terminal.keys().next().value as string);
    const lines: string[] = [];
    const unackedKeys = new Set(this.unacked.keys());
    // Terminal entries already acknowledged are written followed by their ack, so a rebuild sees them acked.
    const ackedTerminal = [...this.terminal.values()].filter((r) => !unackedKeys.has(resultKey(r)));
    for (const r of ackedTerminal) lines.push(JSON.stringify({ t: 'r', r }));
    if (ackedTerminal.length) lines.push(JSON.stringify({ t: 'a', ids: [...new Set(ackedTerminal.map((r) => r.jobId))], at: Date.now() }));
    for (const r of this.unacked.values()) lines.push(JSON.stringify({ t: 'r', r }));
    const tmp = `${this.opts.path}.compact`;
    const out = await open(tmp, 'w');
    const text = lines.length ? lines.join('\n') + '\n' : '';
    await out.write(text);
    await out.sync();
    await out.close();
    await this.fh?.close();
    await rename(tmp, this.opts.path);
    try {
      const dir = await open(dirname(this.opts.path), 'r');
      await dir.sync().catch(() => undefined);
      await dir.close();
    } catch {
      /* directories cannot be opened for sync on every platform */
    }
    this.fh = await open(this.opts.path, 'a');
    this.bytes = Buffer.byteLength(text);
    this.opts.logger?.info({ bytes: this.bytes, unacked: this.unacked.size, terminal: this.terminal.size }, 'journal compacted');
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      await this.fh?.close();
      this.fh = null;
    });
  }
}
