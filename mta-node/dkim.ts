/**
 * DKIM signing (RFC 6376; Ed25519 keys per RFC 8463) with mailauth's dkimSign, on a small pool of
 * worker threads so RSA-2048 signing (~1 ms each) never blocks the event loop. When workers
 * cannot start, signing runs in-thread.
 *
 * The message is normalised to CRLF before it is signed, so the signed bytes are the sent bytes.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { dkimSign } from 'mailauth';
import type { DkimKey } from '../shared/protocol.ts';
import type { Logger } from './log.ts';

/**
 * SMTP smuggling (CVE-2023-51764 class): RFC 5321 §2.3.8 allows CR and LF only as CRLF. Bare CR and
 * bare LF become CRLF, so no peer can read a different end-of-data than we wrote. The DATA stream
 * (nodemailer's DataStream) then dot-stuffs every line that starts with '.' (RFC 5321 §4.5.2).
 */
export function normalizeLineEnds(raw: string): string {
  return raw.replace(/\r\n|\r|\n/g, '\r\n');
}

/**
 * The header fields the signature covers (h=): mailauth's default list (lib/tools.js
 * defaultDKIMFieldNames) plus List-Unsubscribe-Post, which RFC 8058 §4 requires to be signed
 * beside List-Unsubscribe and which that list lacks. Fields a message does not have are skipped.
 */
export const SIGNED_HEADER_FIELDS = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type',
  'Content-Transfer-Encoding', 'Content-ID', 'Content-Description', 'Resent-Date', 'Resent-From', 'Resent-Sender',
  'Resent-To', 'Resent-Cc', 'Resent-Message-ID', 'In-Reply-To', 'References', 'List-Id', 'List-Help',
  'List-Unsubscribe', 'List-Unsubscribe-Post', 'List-Subscribe', 'List-Post', 'List-Owner', 'List-Archive', 'BIMI-Selector',
].join(':');

interface Pending {
  resolve: (sig: string) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: number;
  pending: Map<number, Pending>;
}

export interface DkimPoolOptions {
  /** Worker threads; default the machine's cores. 0 signs in-thread. */
  size?: number;
  logger?: Logger;
}

/**
 * mailauth 4.13 fills the `t=` tag (RFC 6376 §3.5) from `Date.now()` twice when no `signTime` is
 * given: once in the header it hashes and once in the header it emits (lib/tools.js
 * formatSignatureHeaderLine, called from lib/dkim/header/relaxed.js and again after crypto.sign in
 * lib/dkim/dkim-signer.js). A signature straddling a half-second boundary then carries a `t=` that
 * was not signed and fails verification. One timestamp, taken once, goes into both.
 */
async function signInThread(raw: string, key: DkimKey, signTime: number): Promise<string> {
  const res = await dkimSign(raw, {
    canonicalization: 'relaxed/relaxed',
    signTime: new Date(signTime),
    // A colon-separated string, as lib/tools.js getSigningHeaderLines reads it (the typings say
    // string[], which it would ignore and sign the default list).
    headerList: SIGNED_HEADER_FIELDS,
    signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKeyPem, algorithm: key.algorithm }],
  } as unknown as Parameters<typeof dkimSign>[1]);
  const errors = res.errors as unknown as { err?: Error }[] | undefined;
  if (errors?.length || !res.signatures.trim()) {
    throw new Error(`DKIM signing failed: ${errors?.[0]?.err?.message ?? 'no signature produced'}`);
  }
  return res.signatures;
}

export class DkimSignerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private readonly logger?: Logger;
  private closed = false;

  constructor(opts: DkimPoolOptions = {}) {
    this.logger = opts.logger;
    const size = opts.size ?? availableParallelism();
    for (let i = 0; i < size; i++) {
      try {
        this.slots.push(this.spawn());
      } catch (err) {
        this.logger?.warn({ err }, 'DKIM worker could not start; signing in-thread');
        break;
      }
    }
  }

  get workers(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./dkim-worker.mjs', import.meta.url));
    worker.unref();
    const slot: Slot = { worker, busy: 0, pending: new Map() };
    worker.on('message', (msg: { id: number; signatures?: string; error?: string }) => {
      const p = slot.pending.get(msg.id);
      if (!p) return;
      slot.pending.delete(msg.id);
      slot.busy--;
      if (msg.error !== undefined) p.reject(new Error(`DKIM signing failed: ${msg.error}`));
      else p.resolve(msg.signatures ?? '');
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(new Error(`DKIM worker failed: ${err.message}`));
      slot.pending.clear();
      if (!this.closed) this.logger?.warn({ err }, 'DKIM worker exited; remaining signing uses the other workers or runs in-thread');
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return slot;
  }

  /**
   * The DKIM-Signature header line(s), CRLF-terminated, to put in front of `raw`. `signTime` (ms)
   * is the `t=` tag, the same in the hashed and the emitted header (see signInThread).
   */
  async signatures(raw: string, key: DkimKey, signTime = Date.now()): Promise<string> {
    if (this.closed || this.slots.length === 0) return signInThread(raw, key, signTime);
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    return new Promise<string>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, raw, key, signTime, headerList: SIGNED_HEADER_FIELDS });
    });
  }

  /** The message normalised to CRLF with the signature prepended. */
  async sign(raw: string, key: DkimKey): Promise<string> {
    const normalized = normalizeLineEnds(raw);
    return (await this.signatures(normalized, key)) + normalized;
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }
}
