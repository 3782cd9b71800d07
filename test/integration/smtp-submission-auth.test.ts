/**
 * AUTH brute force on SMTP submission: failed attempts are counted per client address across
 * both submission listeners; past the bound every AUTH from that address answers 454, even with
 * a good key, and nothing is sent. Its own platform: the lock-out would hold for the other tests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDomain, startPlatform, type Platform } from '../helpers/platform.ts';
import { RawSmtp, implicitTlsTransport, smtpFailure, starttlsTransport } from './smtp-submission-client.ts';

let p: Platform;

before(async () => {
  p = await startPlatform({ env: { POSTLANE_SUBMISSION_PORT: '0', POSTLANE_SUBMISSION_TLS_PORT: '0' } });
  await addDomain(p, 'brute.test');
});

after(async () => {
  await p?.stop();
});

const mail = { from: 'app@brute.test', to: 'x@dest.test', subject: 's', text: 't' };

test('five failed AUTHs from one address lock it out with 454, over either listener, whatever the key', async () => {
  const before = Number((await p.edge.client.execute('SELECT count(*) AS n FROM messages')).rows[0].n);
  // The good key works before any failure.
  assert.match((await starttlsTransport(p, p.edge.apiKey).sendMail(mail)).response, /^250 /);

  for (let i = 0; i < 5; i++) {
    const transport = i % 2 ? implicitTlsTransport(p, `pl_wrong_${i}_xxxxxxxxxxxxxxxx`) : starttlsTransport(p, `pl_wrong_${i}_xxxxxxxxxxxxxxxx`);
    const failed = await smtpFailure(transport.sendMail(mail));
    assert.equal(failed.responseCode, 535, `attempt ${i + 1}: ${failed.message}`);
  }
  for (const transport of [starttlsTransport(p, p.edge.apiKey), implicitTlsTransport(p, p.edge.apiKey)]) {
    const locked = await smtpFailure(transport.sendMail(mail));
    assert.equal(locked.responseCode, 454, locked.message);
    assert.match(String(locked.response), /too many failed AUTH attempts/);
  }
  // AUTH LOGIN is held to the same count.
  const raw = await RawSmtp.open(p.edge.smtp.submissionTlsPort!, { tls: { ca: p.edge.smtp.cert! } });
  await raw.command('EHLO raw.test');
  assert.equal((await raw.command('AUTH LOGIN'))?.code, 334);
  assert.equal((await raw.command(Buffer.from('user').toString('base64')))?.code, 334);
  assert.equal((await raw.command(Buffer.from(p.edge.apiKey).toString('base64')))?.code, 454);
  raw.close();

  const after = Number((await p.edge.client.execute('SELECT count(*) AS n FROM messages')).rows[0].n);
  assert.equal(after, before + 1, 'only the message sent before the lock-out');
});
