/** Test fixtures for the MTA node: SMTP sinks, a hub that speaks the lease protocol, keys, jobs. */
import { generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseNodeFrame, encodeFrame, PROTOCOL_VERSION, type DkimKey, type HubToNode, type LeasedJob, type NodeToHub } from '../../shared/protocol.ts';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  session: SMTPServerSession;
}

export interface Sink {
  port: number;
  mails: ReceivedMail[];
  connections: number;
  close(): Promise<void>;
}

/** An smtp-server sink on 127.0.0.1; `onRcpt` may reject with an error carrying responseCode. */
export async function startSink(opts: Partial<SMTPServerOptions> & { onRcpt?: (to: string) => Error | null; replyText?: string } = {}): Promise<Sink> {
  const mails: ReceivedMail[] = [];
  const sink = { port: 0, mails, connections: 0, close: async () => {} } as Sink;
  const { onRcpt, replyText, ...serverOpts } = opts;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: serverOpts.key ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    logger: false,
    ...serverOpts,
    onConnect(_session, cb) {
      sink.connections++;
      cb();
    },
    onRcptTo(addr, _session, cb) {
      const err = onRcpt?.(addr.address) ?? null;
      cb(err ?? undefined);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          session: { ...session },
        });
        (cb as (err: Error | null, message?: string) => void)(null, replyText ?? 'OK: queued as Q1D2345');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

export function smtpError(code: number, text: string): Error {
  const err = new Error(text) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}

/** A self-signed certificate made with openssl, or null when openssl is missing. */
export function selfSignedCert(): { key: string; cert: string } | null {
  const dir = mkdtempSync(join(tmpdir(), 'postlane-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A DKIM key pair and the TXT record for its public half. */
export function dkimKey(algorithm: 'rsa-sha256' | 'ed25519-sha256', domain = 'sender.test', selector = 's2025'): { key: DkimKey; txt: string } {
  if (algorithm === 'rsa-sha256') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    return { key: { keyId: `ten_test:${domain}:${selector}`, domain, selector, algorithm, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, txt: `v=DKIM1; k=rsa; p=${p}` };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  // RFC 8463 §4.2: p= is the raw 32-byte Ed25519 public key.
  const p = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  return { key: { keyId: `ten_test:${domain}:${selector}`, domain, selector, algorithm, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, txt: `v=DKIM1; k=ed25519; p=${p}` };
}

let seq = 0;
export function job(overrides: Partial<LeasedJob> = {}): LeasedJob {
  const n = ++seq;
  return {
    jobId: `job${n}`,
    leaseId: `lease${n}`,
    dedupKey: `msg1:rcpt${n}@dest.test`,
    messageId: 'msg1',
    recipient: `rcpt${n}@dest.test`,
    domain: 'dest.test',
    envelopeFrom: `bounces+job${n}@bounce.sender.test`,
    pool: 'default',
    sourceIp: null,
    provider: 'other',
    lane: 'transactional',
    attempt: 1,
    dkimDomain: null,
    dkimKeyId: null,
    requireTls: false,
    leaseExpiresAt: Date.now() + 60_000,
    ...overrides,
  };
}

export const RAW =
  'From: Sender <hello@sender.test>\r\nTo: rcpt@dest.test\r\nSubject: Hello there\r\nDate: Mon, 24 Nov 2025 10:00:00 +0000\r\n' +
  'Message-ID: <m1@sender.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLine one.\r\n.leading dot\r\nLast line.\r\n';

/** A hub stand-in: validates every node frame with parseNodeFrame and lets the test answer. */
export interface FakeHub {
  url: string;
  frames: NodeToHub[];
  badFrames: string[];
  authHeaders: (string | undefined)[];
  connections: number;
  socket: WebSocket | null;
  send(frame: HubToNode): void;
  next(type: NodeToHub['type'], predicate?: (f: NodeToHub) => boolean): Promise<NodeToHub>;
  close(): Promise<void>;
}

export async function startHub(onHello?: (hub: FakeHub) => void, welcome: Partial<Extract<HubToNode, { type: 'welcome' }>> = {}): Promise<FakeHub> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/nodes/connect' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const waiters: { type: string; pred?: (f: NodeToHub) => boolean; resolve: (f: NodeToHub) => void; from: number }[] = [];
  const hub: FakeHub = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    frames: [],
    badFrames: [],
    authHeaders: [],
    connections: 0,
    socket: null,
    send(frame) {
      hub.socket?.send(encodeFrame(frame));
    },
    next(type, pred) {
      const found = hub.frames.find((f) => f.type === type && (!pred || pred(f)));
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ type, pred, resolve, from: hub.frames.length }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on('connection', (ws, req) => {
    hub.connections++;
    hub.socket = ws;
    hub.authHeaders.push(req.headers.authorization);
    ws.on('message', (data) => {
      const parsed = parseNodeFrame(data.toString());
      if (!parsed.ok) {
        hub.badFrames.push(parsed.error);
        return;
      }
      const f = parsed.frame;
      hub.frames.push(f);
      if (f.type === 'hello') {
        hub.send({ type: 'welcome', v: PROTOCOL_VERSION, sessionId: `s${hub.connections}`, leaseTtlMs: 60_000, heartbeatMs: 50, acceptedIps: f.ips, ...welcome });
        onHello?.(hub);
      }
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w.type === f.type && (!w.pred || w.pred(f))) {
          waiters.splice(i, 1);
          w.resolve(f);
        }
      }
    });
  });
  return hub;
}

/** Waits until `cond` holds, polling; fails after `ms`. */
export async function until(cond: () => boolean, ms = 3_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function tmpDir(): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), 'postlane-node-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
