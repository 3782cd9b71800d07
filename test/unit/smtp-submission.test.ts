/**
 * The pure parts of SMTP submission: the bare CR / LF check across chunk boundaries (the
 * smuggling guard), the AUTH failure window, and how a parsed message becomes the send request
 * (envelope recipients, carried and stripped headers, the Message-ID as idempotency key).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { AuthFailures, BareNewlineCheck } from '../../edge/adapters/smtp-submission/guards.ts';
import { smtpAnswer, submissionRequest } from '../../edge/services/submission.ts';

const bare = (...chunks: string[]) => {
  const check = new BareNewlineCheck();
  for (const c of chunks) check.feed(Buffer.from(c, 'latin1'));
  return check.end();
};

test('bare CR or LF anywhere, split across chunks or not, is found; CRLF alone is not', () => {
  assert.equal(bare('a\r\nb\r\n'), false);
  assert.equal(bare('a\r', '\nb\r\n'), false, 'CRLF split over two chunks');
  assert.equal(bare('a\nb\r\n'), true);
  assert.equal(bare('a\r', 'b\r\n'), true, 'CR at a chunk end, no LF after it');
  assert.equal(bare('a\r\n.\n'), true);
  assert.equal(bare('a\r.\r\n'), true);
  assert.equal(bare('a\r\nb\r'), true, 'a trailing CR');
  assert.equal(bare('\n'), true, 'LF first of all');
});

test('AUTH failures: blocked past the bound, free again once the oldest leaves the window', () => {
  const failures = new AuthFailures(3, 1000);
  failures.fail('192.0.2.1', 0);
  failures.fail('192.0.2.1', 100);
  assert.equal(failures.blockedFor('192.0.2.1', 200), 0);
  failures.fail('192.0.2.1', 200);
  assert.equal(failures.blockedFor('192.0.2.1', 300), 1);
  assert.equal(failures.blockedFor('192.0.2.2', 300), 0, 'per address');
  assert.equal(failures.blockedFor('192.0.2.1', 1001), 0, 'the first failure left the window');
});

test('a parsed message becomes the send request: envelope recipients, Bcc, carried headers, lane, idempotency key', async () => {
  const raw = [
    'From: "The App" <app@submit.test>',
    'To: ada@dest.test, notinenvelope@dest.test',
    'Cc: Bob <BOB@Dest.Test>',
    'Subject: =?UTF-8?B?SGVsbG8g4pyT?=',
    'Message-ID: <abc@client.test>',
    'In-Reply-To: <prev@client.test>',
    'X-Postlane-Lane: Lifecycle',
    'X-Postlane-Other: dropped',
    'X-Campaign: spring',
    'DKIM-Signature: v=1; a=rsa-sha256; d=client.test; b=xyz',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'hello',
    '',
  ].join('\r\n');
  const parsed = await simpleParser(raw);
  const { body, idempotencyKey } = await submissionRequest(
    {
      from: parsed.from!.value.map((a) => ({ address: a.address!, name: a.name })),
      to: (parsed.to as { value: Array<{ address?: string; name: string }> }).value.map((a) => ({ address: a.address!, name: a.name })),
      cc: (parsed.cc as { value: Array<{ address?: string; name: string }> }).value.map((a) => ({ address: a.address!, name: a.name })),
      replyTo: [],
      subject: parsed.subject,
      text: parsed.text,
      headerLines: parsed.headerLines,
      attachments: [],
      messageId: parsed.messageId,
    },
    ['ada@dest.test', 'bob@dest.test', 'hidden@dest.test'],
  );
  assert.deepEqual(body.from, { email: 'app@submit.test', name: 'The App' });
  assert.deepEqual(body.to, ['ada@dest.test'], 'a To address outside the envelope is not sent to');
  assert.deepEqual(body.cc, [{ email: 'BOB@Dest.Test', name: 'Bob' }]);
  assert.deepEqual(body.bcc, ['hidden@dest.test']);
  assert.equal(body.subject, 'Hello ✓');
  assert.equal(body.lane, 'lifecycle');
  assert.deepEqual(body.headers, { 'In-Reply-To': '<prev@client.test>', 'X-Campaign': 'spring' });
  assert.match(idempotencyKey!, /^smtp:[0-9a-f]{64}$/);
  assert.equal(
    (await submissionRequest({ ...emptyMessage(), messageId: '<abc@client.test>' }, ['a@dest.test'])).idempotencyKey,
    idempotencyKey,
    'same Message-ID, same key',
  );
});

function emptyMessage() {
  return { from: [{ address: 'app@submit.test' }], to: [], cc: [], replyTo: [], headerLines: [], attachments: [] };
}

test('API answers become SMTP replies; only a 202 is a 250', () => {
  assert.equal(smtpAnswer(202, { id: 'msg_1', status: 'queued', recipients: 1 }).code, 250);
  assert.equal(smtpAnswer(400, { error: { code: 'invalid_request', message: 'from: not registered', field: 'from' } }).code, 553);
  assert.equal(smtpAnswer(400, { error: { code: 'invalid_request', message: 'bcc[0]: bad', field: 'bcc[0]' } }).code, 553);
  assert.equal(smtpAnswer(400, { error: { code: 'invalid_request', message: 'lane: unknown', field: 'lane' } }).code, 554);
  assert.equal(smtpAnswer(413, { error: { message: 'too big' } }).code, 552);
  assert.equal(smtpAnswer(429, { error: { message: 'slow down' } }).code, 451);
  assert.equal(smtpAnswer(503, { error: { message: 'store down' } }).code, 451);
  assert.equal(smtpAnswer(500, null).code, 451);
  assert.doesNotMatch(smtpAnswer(400, { error: { message: 'a\r\nMAIL FROM:<x>', field: 'subject' } }).message, /[\r\n]/, 'one line, always');
});
