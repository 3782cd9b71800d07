/**
 * A webhook receiver on loopback (node:http) that verifies every delivery with the official
 * `standardwebhooks` package, and the stream check the webhook tests share: every delivery
 * verified, sequences 1..n without gaps, each message's events in trace order.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  body: any;
  headers: Record<string, string>;
  raw: string;
}

/** A webhook receiver: `fail` decides a 500 per request; only 2xx answers are recorded in `ok`. */
export class Receiver {
  server: Server | null = null;
  port = 0;
  ok: Received[] = [];
  requests = 0;
  badSignatures = 0;
  secrets: string[] = [];
  fail: (n: number) => boolean = () => false;

  async listen(port = 0) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const n = ++this.requests;
        const raw = Buffer.concat(chunks).toString('utf8');
        const headers = req.headers as Record<string, string>;
        if (this.fail(n)) return void res.writeHead(500).end('no');
        try {
          for (const s of this.secrets.slice(0, 1)) new Webhook(s).verify(raw, headers);
        } catch {
          this.badSignatures++;
          return void res.writeHead(400).end('bad signature');
        }
        this.ok.push({ id: headers['webhook-id'], body: JSON.parse(raw), headers, raw });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close() {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  get url() {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** First 2xx receipt of each delivery (at least once: a repeat is dropped). */
  unique(): Received[] {
    const seen = new Set<string>();
    return this.ok.filter((r) => !seen.has(r.id) && seen.add(r.id));
  }
}

/** Every delivery verified, sequences 1..n without gaps, each message's events in trace order. */
export function checkStream(r: Receiver, expected: number) {
  const got = r.unique();
  assert.equal(r.badSignatures, 0, 'every delivery verifies');
  assert.equal(got.length, expected, 'one delivery per event');
  const seqs = got.map((g) => g.body.sequence).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: expected }, (_, i) => i + 1), 'sequences are 1..n with no gap');
  const last = new Map<string, number>();
  for (const g of got) {
    const prev = last.get(g.body.message_id) ?? 0;
    assert.equal(g.body.message_event_index, prev + 1, `events of ${g.body.message_id} arrive in order`);
    last.set(g.body.message_id, g.body.message_event_index);
    for (const k of ['type', 'sequence', 'message_event_index', 'message_id', 'job_id', 'at', 'data']) assert.ok(k in g.body, `payload has ${k}`);
  }
}

