/**
 * A real MTA as the submission client: a private Postfix on loopback relays through Postlane's
 * 587-like listener (relayhost, mandatory STARTTLS, SASL AUTH with the API key as password, as an
 * application server's local Postfix would be set up). What it relays takes the send path and
 * reaches the sink once each, DKIM-signed. Postfix is installed when missing
 * (bench/lib/postfix-install.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate } from 'mailauth';
import nodemailer from 'nodemailer';
import { createServer } from 'node:net';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';
import { ensurePostfix } from '../../bench/lib/postfix-install.ts';
import { startPostfixRelay, type PostfixRelay } from '../../bench/lib/postfix-relay.ts';

const DOMAIN = 'relayed.test';
let sink: Sink;
let p: Platform;
let postfix: PostfixRelay;
let dkim: { name: string; value: string };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  await ensurePostfix((line) => console.log(line));
  sink = await startSink();
  p = await startPlatform({ sinkPort: sink.port, env: { POSTLANE_SUBMISSION_PORT: '0' } });
  await p.startNode();
  dkim = (await addDomain(p, DOMAIN)).dns_records.find((r) => r.purpose === 'dkim')!;
  postfix = await startPostfixRelay({
    port: await freePort(),
    relayPort: p.edge.smtp.submissionPort!,
    destinationConcurrency: 2,
    reuseCount: 50,
    extraMainCf: [
      'smtp_tls_security_level = encrypt',
      'smtp_sasl_auth_enable = yes',
      `smtp_sasl_password_maps = static:app-server:${p.edge.apiKey}`,
      'smtp_sasl_security_options = noanonymous',
      'smtp_sasl_tls_security_options = noanonymous',
    ],
  });
});

after(async () => {
  await postfix?.stop();
  await p?.stop();
  await sink?.close();
});

test('Postfix relaying through submission (STARTTLS + SASL): every message arrives once, DKIM-signed', async () => {
  const local = nodemailer.createTransport({ host: '127.0.0.1', port: postfix.port, secure: false, ignoreTLS: true } as nodemailer.TransportOptions);
  const count = 20;
  for (let i = 0; i < count; i++) {
    const info = await local.sendMail({
      from: `app@${DOMAIN}`,
      to: `via-postfix-${i}@dest.test`,
      subject: `relayed ${i}`,
      text: `through Postfix ${i}`,
      headers: { 'X-Postlane-Lane': 'lifecycle' },
    });
    assert.match(info.response, /^250 /);
  }
  const mails = await waitFor(
    () => {
      const got = Array.from({ length: count }, (_, i) => sink.mails.filter((m) => m.to.includes(`via-postfix-${i}@dest.test`)));
      return got.every((g) => g.length >= 1) && got;
    },
    90_000,
    `${count} relayed deliveries (Postfix log: ${postfix.logTail()})`,
  );
  assert.ok(
    mails.every((g) => g.length === 1),
    'each once',
  );
  for (const [mail] of mails) {
    assert.doesNotMatch(mail.raw, /^X-Postlane-Lane:/im);
    const r = await authenticate(mail.raw, {
      ip: '127.0.0.1',
      helo: 'mta.test',
      sender: mail.from,
      trustReceived: false,
      resolver: async (name: string, type: string) => {
        if (type === 'TXT' && name === dkim.name) return [[dkim.value]];
        throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      },
    });
    assert.equal(r.dkim.results[0]?.status.result, 'pass');
  }
  const listed = await p.api('GET', '/v1/messages?lane=lifecycle&limit=100');
  assert.equal(listed.status, 200);
  assert.equal(listed.body.data.filter((m: { subject?: string }) => /^relayed \d+$/.test(m.subject ?? '')).length, count);
});
