/**
 * Body limits on every route, and a 413 that reaches the client: 60 MiB posted by fetch (undici),
 * by Node's http client with a chunked body, and by curl, each gets the JSON 413 rather than a
 * reset connection (the server drains the refused rest, bounded, instead of closing under the
 * writer). Also: a body without Content-Type is a 415 naming the header, an unknown route's 404
 * points at the OpenAPI document, and a message made large by its text says `text`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPlatform, type Platform } from '../helpers/platform.ts';

const SIXTY_MIB = 60 * 1024 * 1024;
let p: Platform;

before(async () => {
  p = await startPlatform();
  await p.api('POST', '/v1/domains', { domain: 'limits.test' });
});
after(() => p.stop());

const auth = () => ({ authorization: `Bearer ${p.edge.apiKey}`, 'content-type': 'application/json' });

function chunkedPost(path: string, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, p.edge.url);
    const req = request(url, { method: 'POST', headers: { ...auth(), 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    let sent = 0;
    const write = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

test('60 MiB by fetch gets the 413 with its JSON body, on a message route and on a document route', async () => {
  for (const path of ['/v1/messages', '/v1/suppressions', '/v1/domains', '/v1/policies']) {
    const res = await fetch(new URL(path, p.edge.url), { method: path === '/v1/policies' ? 'PUT' : 'POST', headers: auth(), body: Buffer.alloc(SIXTY_MIB, 'a') });
    assert.equal(res.status, 413, path);
    const body = await res.json();
    assert.equal(body.error.code, 'payload_too_large');
    assert.ok(body.error.limit > 0 && body.error.limit < SIXTY_MIB, `${path}: the limit is named (${body.error.limit})`);
  }
});

test('60 MiB chunked by Node http gets the 413 (no EPIPE)', async () => {
  for (const path of ['/v1/messages', '/v1/suppressions']) {
    const res = await chunkedPost(path, SIXTY_MIB);
    assert.equal(res.status, 413, path);
    assert.equal(JSON.parse(res.body).error.code, 'payload_too_large');
  }
});

test('60 MiB by curl gets the 413', async () => {
  const file = join(p.dataDir, 'big.json');
  writeFileSync(file, Buffer.alloc(SIXTY_MIB, 'a'));
  // Asynchronously: the server under test runs in this process.
  const out = await promisify(execFile)('curl', ['-s', '--max-time', '60', '-w', '\n%{http_code}', '-H', `authorization: Bearer ${p.edge.apiKey}`, '-H', 'content-type: application/json', '--data-binary', `@${file}`, `${p.edge.url}/v1/messages`], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines.at(-1), '413', out.stderr);
  assert.equal(JSON.parse(lines.slice(0, -1).join('\n')).error.code, 'payload_too_large');
});

test('no Content-Type is 415 naming the header; an unknown route says where the routes are', async () => {
  const res = await fetch(new URL('/v1/domains', p.edge.url), { method: 'POST', headers: { authorization: `Bearer ${p.edge.apiKey}` }, body: '{"domain":"x.test"}' });
  assert.equal(res.status, 415);
  const body = await res.json();
  assert.equal(body.error.code, 'unsupported_media_type');
  assert.equal(body.error.field, 'content-type');
  const missing = await p.api('GET', '/v1/nothing-here');
  assert.equal(missing.status, 404);
  assert.match(missing.body.error.action, /openapi\.json/);
});

test('a message too large because of its text names `text`, not attachments', async () => {
  const res = await p.api('POST', '/v1/messages', { from: 'a@limits.test', to: 'b@example.net', subject: 's', text: 'x'.repeat(11 * 1024 * 1024) });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.field, 'text');
});
