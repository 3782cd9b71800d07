import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSmtpReply, formatSmtpReply } from '../../shared/smtp-reply.ts';
import { jobIdFromVerp, verpAddress } from '../../shared/verp.ts';
import { planRetry, DEFAULT_RETRY } from '../../shared/policy/retry.ts';

test('parses a multi-line reply with an enhanced code once', () => {
  const r = parseSmtpReply('421-4.7.28 Our system has detected an unusual rate\r\n421 4.7.28 of unsolicited mail.');
  assert.deepEqual(r, { code: 421, enhanced: '4.7.28', text: 'Our system has detected an unusual rate of unsolicited mail.' });
  assert.equal(formatSmtpReply(r!), '421 4.7.28 Our system has detected an unusual rate of unsolicited mail.');
});

test('parses a reply without an enhanced code', () => {
  assert.deepEqual(parseSmtpReply('250 OK'), { code: 250, enhanced: null, text: 'OK' });
  assert.equal(parseSmtpReply('garbage'), null);
});

test('VERP addresses round-trip and foreign addresses are not ours', () => {
  assert.equal(jobIdFromVerp(verpAddress('job_abc-1', 'example.com')), 'job_abc-1');
  assert.equal(jobIdFromVerp('<bounces+j1@x.org>'), 'j1');
  assert.equal(jobIdFromVerp('alice@example.com'), null);
});

test('retry backs off exponentially with jitter and fails past the TTL', () => {
  const now = 1_000_000;
  const first = planRetry({ attempts: 1, acceptedAt: now, now, random: () => 0 });
  const third = planRetry({ attempts: 3, acceptedAt: now, now, random: () => 1 });
  assert.equal(first.action, 'retry');
  assert.equal(first.action === 'retry' && first.delayMs, DEFAULT_RETRY.initialMs / 2);
  assert.equal(third.action === 'retry' && third.delayMs, DEFAULT_RETRY.initialMs * 4);
  const late = planRetry({ attempts: 20, acceptedAt: now, now: now + DEFAULT_RETRY.ttlMs - 1000, random: () => 0.5 });
  assert.equal(late.action, 'fail');
});
