/**
 * Header fields of the built message (RFC 5322 §2.1.1, §2.2.3; RFC 2047; RFC 2231), checked with
 * fast-check against a parser we did not write (mailparser): every line is within 998 octets,
 * and what is read back is what was sent. Header injection through any value is refused at
 * accept with the field named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import libmime from 'libmime';
import { buildMime } from '../../shared/mime.ts';
import { foldField, headerText, headerTextProblem, mimeParameter } from '../../shared/header-field.ts';
import { prepareMessage, type AcceptContext } from '../../edge/services/accept.ts';
import { ApiError } from '../../shared/errors.ts';

const encoder = new TextEncoder();

function everyLineWithin998(raw: string) {
  for (const line of raw.split('\r\n')) assert.ok(encoder.encode(line).length <= 998, `line of ${encoder.encode(line).length} octets: ${line.slice(0, 60)}…`);
}

/** Header-safe text: any code point but control characters, trimmed (a parser trims a field body). */
const headerSafeText = (maxLength: number) =>
  fc
    .string({ unit: fc.oneof(fc.constantFrom(' ', 'a', 'Z', '9', '-', '"', '\\', ';', '='), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 })), maxLength })
    .map((s) => s.replace(/[\x00-\x1f\x7f]/g, 'x').replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 0 && headerTextProblem(s) === null);

const base = {
  from: { name: null, address: 'a@sender.test', local: 'a', domain: 'sender.test' },
  to: [{ name: null, address: 'b@dest.test', local: 'b', domain: 'dest.test' }],
  cc: [],
  replyTo: [],
  text: 'hello',
  html: null,
  messageId: 'm1@sender.test',
  date: new Date(Date.UTC(2026, 0, 1)),
};

test('subjects, custom headers, display names and file names of any length fold within 998 octets and read back exactly', async () => {
  await fc.assert(
    fc.asyncProperty(
      headerSafeText(3000),
      headerSafeText(2500),
      headerSafeText(300),
      headerSafeText(255),
      async (subject, custom, displayName, filename) => {
        const raw = buildMime({
          ...base,
          from: { ...base.from, name: displayName },
          subject,
          headers: { 'X-Custom': custom },
          attachments: [{ filename, contentType: 'text/plain', contentBase64: 'aGk=', contentId: null }],
        });
        everyLineWithin998(raw);
        const parsed = await simpleParser(raw);
        assert.equal(parsed.subject, subject);
        // mailparser leaves fields it does not know encoded; libmime (its own decoder) decodes them.
        const line = parsed.headerLines.find((h) => h.key === 'x-custom')?.line ?? '';
        assert.equal(libmime.decodeWords(line.replace(/^X-Custom:\s*/i, '').replace(/\r\n([ \t])/g, '$1')), custom);
        assert.equal(parsed.from?.value[0].name, displayName);
        assert.equal(parsed.attachments[0].filename, filename);
      },
    ),
    { numRuns: 300 },
  );
});

test('a 5,000-character word and a subject of 2,000 spaced words stay within the limits', async () => {
  const word = 'x'.repeat(5000);
  const spaced = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(' ');
  for (const subject of [word, spaced]) {
    const raw = buildMime({ ...base, subject, headers: {}, attachments: [] });
    everyLineWithin998(raw);
    assert.equal((await simpleParser(raw)).subject, subject);
  }
  assert.ok(foldField('Subject', headerText(spaced)).split('\r\n').every((l) => l.length <= 78));
});

test('a file name ending in a backslash or holding quotes stays one quoted parameter', async () => {
  for (const filename of ['a;b=c\\', 'say "hi".txt', 'back\\slash.txt']) {
    assert.match(mimeParameter('filename', filename), /^; filename="(?:[^"\\]|\\.)*"$/);
    const raw = buildMime({ ...base, subject: 's', headers: {}, attachments: [{ filename, contentType: 'text/plain', contentBase64: 'aGk=', contentId: null }] });
    assert.equal((await simpleParser(raw)).attachments[0].filename, filename);
  }
});

const ctx: AcceptContext = {
  tenantId: 't1',
  now: Date.UTC(2026, 0, 1),
  maxMessageBytes: 10 * 1024 * 1024,
  domain: async () => ({ status: 'verified' }) as never,
  pools: new Map([['default', { tenantId: null }]]),
  requireVerifiedDomain: false,
  providerOf: () => 'other',
};

async function refusal(body: Record<string, unknown>): Promise<string> {
  try {
    await prepareMessage({ from: 'a@sender.test', to: 'b@dest.test', subject: 's', text: 'x', ...body } as never, ctx);
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return String(e.details.field);
  }
  assert.fail('accepted');
}

test('CR, LF or another control character in any header-bound value is refused, naming the field', async () => {
  const attachment = { filename: 'a.txt', content_type: 'text/plain', content: 'aGk=' };
  for (const bad of ['x\r\nBcc: victim@example.com', 'x\nX: y', 'x\u0000', 'x\u001b[31m']) {
    assert.equal(await refusal({ attachments: [{ ...attachment, content_id: bad }] }), 'attachments[0].content_id');
    assert.equal(await refusal({ attachments: [{ ...attachment, filename: bad }] }), 'attachments[0].filename');
    assert.equal(await refusal({ subject: bad }), 'subject');
    assert.equal(await refusal({ headers: { 'X-A': bad } }), 'headers.X-A');
    assert.equal(await refusal({ tags: { t: bad } }), 'tags.t');
    assert.equal(await refusal({ from: { email: 'a@sender.test', name: bad } }), 'from');
  }
  assert.equal(await refusal({ attachments: [{ ...attachment, content_id: 'has space@x' }] }), 'attachments[0].content_id');
});
