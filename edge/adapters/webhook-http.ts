/**
 * The webhook sender's Node bindings: DNS (node:dns, every address of the name) and one POST
 * over node:http(s) to the address the SSRF check passed — the socket's lookup is pinned to it,
 * so a second DNS answer (rebinding) is never used, while Host and TLS SNI keep the URL's name.
 * No redirects (node:http follows none; a 3xx is a failure), the response body is read to at
 * most 64 KiB, and connect and the whole exchange are bounded (10 s each).
 */
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedTarget } from '../webhooks/ssrf.ts';
import type { TransportResult } from '../webhooks/sender.ts';
import { retryAfterMs, WEBHOOK_BODY_LIMIT } from '../webhooks/fetch-transport.ts';

export const WEBHOOK_CONNECT_TIMEOUT_MS = 10_000;
export const WEBHOOK_TOTAL_TIMEOUT_MS = 10_000;

export async function resolveHost(host: string): Promise<string[]> {
  const all = await lookup(host, { all: true, verbatim: true });
  return all.map((a) => a.address);
}

export function postWebhook(target: CheckedTarget, headers: Record<string, string>, body: string, timeouts = { connectMs: WEBHOOK_CONNECT_TIMEOUT_MS, totalMs: WEBHOOK_TOTAL_TIMEOUT_MS }): Promise<TransportResult> {
  const pinned: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<TransportResult>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(total);
      fn();
    };
    const req = request(target.url, {
      method: 'POST',
      lookup: pinned,
      agent: false,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    const total = setTimeout(() => req.destroy(new Error(`no answer within ${timeouts.totalMs} ms`)), timeouts.totalMs);
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connect = setTimeout(() => req.destroy(new Error(`no connection within ${timeouts.connectMs} ms`)), timeouts.connectMs);
      socket.once('connect', () => clearTimeout(connect));
      socket.once('secureConnect', () => clearTimeout(connect));
      socket.once('close', () => clearTimeout(connect));
    });
    req.on('error', (err) => finish(() => reject(err)));
    req.on('response', (res: IncomingMessage) => {
      let read = 0;
      const done = () => finish(() => resolve({ status: res.statusCode ?? 0, retryAfterMs: retryAfterMs(res.headers['retry-after']) }));
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        // The answer's body is not used; past the bound it is not read at all.
        if (read > WEBHOOK_BODY_LIMIT) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('close', done);
      res.on('error', (err) => finish(() => reject(err)));
    });
    req.end(body);
  });
}
