/**
 * shared/feedback.ts against reports shaped like the ones providers send: an ARF complaint
 * (RFC 5965, as Yahoo's CFL and Microsoft's JMRP send them), an ARF with headers only, a Postfix
 * DSN (RFC 3464) for an unknown user, a delay DSN, encoded and forwarded variants, and things
 * that are not reports. mailparser (a real MIME parser) reads each sample too, so the samples
 * themselves are well-formed MIME and not written to suit our parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { addressOf, invalidMessageReason, parseContentType, parseFeedback, parseHeaderFields } from '../../shared/feedback.ts';

const CRLF = (s: string) => s.replace(/\r?\n/g, '\r\n');
const JOB = 'job_01jz8x2k3m4n5p6q7r8s9t0v1w';

const ARF_ABUSE = CRLF(`Return-Path: <>
Delivered-To: fbl@postlane.example
From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: fbl@postlane.example
Subject: FW: Spring sale
Date: Tue, 14 Jan 2025 10:12:44 +0000
Message-ID: <1736849564.8812@arf.mail.yahoo.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
\tboundary="----=_Part_74419_1157463128.1736849564"

------=_Part_74419_1157463128.1736849564
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
127.0.0.1 on Tue, 14 Jan 2025 10:02:01 +0000.

------=_Part_74419_1157463128.1736849564
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Mail-From: <bounces+${JOB}@example.com>
Original-Rcpt-To: <ada@yahoo.com>
Arrival-Date: Tue, 14 Jan 2025 10:02:01 +0000
Reporting-MTA: dns; mta1001.mail.gq1.yahoo.com
Source-IP: 127.0.0.1
Reported-Domain: example.com
Authentication-Results: mta1001.mail.gq1.yahoo.com; dkim=pass header.d=example.com

------=_Part_74419_1157463128.1736849564
Content-Type: message/rfc822
Content-Disposition: inline

Return-Path: <bounces+${JOB}@example.com>
Received: from mta.test (unknown [127.0.0.1]) by mta1001.mail.gq1.yahoo.com
 with ESMTP; Tue, 14 Jan 2025 10:02:01 +0000
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=pl202501; h=from:to:subject;
 bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AbC
From: News <news@example.com>
To: ada@yahoo.com
Subject: Spring sale
Message-ID: <msg_01jz8x2k3m4n5p6q7r8s9t0v1w@example.com>
Date: Tue, 14 Jan 2025 10:01:59 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Our spring sale starts today.

------=_Part_74419_1157463128.1736849564--
`);

/** Headers only (RFC 5965 §2 allows text/rfc822-headers), recipient redacted as AOL does. */
const ARF_HEADERS_ONLY = CRLF(`From: scomp@aol.net
To: fbl@postlane.example
Subject: Email Feedback Report for IP 127.0.0.2
MIME-Version: 1.0
Content-Type: multipart/report; report-type="feedback-report"; boundary="boundary-1"

--boundary-1
Content-Type: text/plain

This is an email abuse report.
--boundary-1
Content-Type: message/feedback-report

Feedback-Type: fraud
User-Agent: AOL SComp
Version: 1
Source-IP: 127.0.0.2
Original-Rcpt-To: redacted@aol.com

--boundary-1
Content-Type: text/rfc822-headers

Return-Path: <Bounces+${JOB}@Example.COM>
From: news@example.com
To: redacted@aol.com
Message-ID: <msg_01jz8x2k3m4n5p6q7r8s9t0v1w@example.com>
Subject: hi

--boundary-1--
`);

/** What Postfix sends back (bounce(8)), to the VERP envelope sender. */
const DSN_UNKNOWN_USER = CRLF(`Return-Path: <>
X-Original-To: bounces+${JOB}@example.com
Delivered-To: bounces+${JOB}@example.com
Date: Tue, 14 Jan 2025 10:03:10 +0000 (UTC)
From: MAILER-DAEMON@mx.other.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces+${JOB}@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4B2C1A0C2D.1736849590/mx.other.test"
Message-Id: <20250114100310.4B2C1A0C2D@mx.other.test>

This is a MIME-encapsulated message.

--4B2C1A0C2D.1736849590/mx.other.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.other.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<grace@other.test>: host inbound.other.test[10.0.0.5] said: 550 5.1.1
    <grace@other.test>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--4B2C1A0C2D.1736849590/mx.other.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.other.test
X-Postfix-Queue-ID: 4B2C1A0C2D
X-Postfix-Sender: rfc822; bounces+${JOB}@example.com
Arrival-Date: Tue, 14 Jan 2025 10:03:09 +0000 (UTC)

Final-Recipient: rfc822; grace@other.test
Original-Recipient: rfc822;grace@other.test
Action: failed
Status: 5.1.1
Remote-MTA: dns; inbound.other.test
Diagnostic-Code: smtp; 550 5.1.1 <grace@other.test>: Recipient address
    rejected: User unknown in virtual mailbox table

--4B2C1A0C2D.1736849590/mx.other.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <bounces+${JOB}@example.com>
From: News <news@example.com>
To: grace@other.test
Subject: Welcome
Message-ID: <msg_01jz8x2k3m4n5p6q7r8s9t0v1w@example.com>

--4B2C1A0C2D.1736849590/mx.other.test--
`);

const DSN_DELAYED = CRLF(`From: MAILER-DAEMON@relay.test
To: bounces+${JOB}@example.com
Subject: Delayed Mail (still being retried)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b2"

--b2
Content-Type: text/plain

Still trying.
--b2
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.test

Final-Recipient: rfc822; slow@other.test
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to inbound.other.test[10.0.0.5]:25: Connection timed out
Will-Retry-Until: Fri, 17 Jan 2025 10:03:09 +0000

--b2--
`);

function base64Lines(s: string) {
  return Buffer.from(s).toString('base64').replace(/.{1,76}/g, '$&\r\n');
}

test('an ARF abuse report: feedback fields (RFC 5965 §3.1-3.2), the original Return-Path and Message-ID', async () => {
  const parsed = parseFeedback(ARF_ABUSE);
  assert.equal(parsed.report.kind, 'arf');
  const r = parsed.report as Extract<typeof parsed.report, { kind: 'arf' }>;
  assert.equal(r.feedbackType, 'abuse');
  assert.equal(r.complaint, true);
  assert.equal(r.userAgent, 'Yahoo!-Mail-Feedback/2.0');
  assert.equal(r.version, '1');
  assert.equal(r.originalMailFrom, `bounces+${JOB}@example.com`);
  assert.deepEqual(r.originalRcptTo, ['ada@yahoo.com']);
  assert.equal(r.sourceIp, '127.0.0.1');
  assert.equal(r.reportingMta, 'mta1001.mail.gq1.yahoo.com');
  assert.equal(r.reportedDomain, 'example.com');
  assert.deepEqual(r.original, {
    returnPath: `bounces+${JOB}@example.com`,
    messageId: '<msg_01jz8x2k3m4n5p6q7r8s9t0v1w@example.com>',
    from: 'news@example.com',
    to: ['ada@yahoo.com'],
    subject: 'Spring sale',
  });
  assert.equal(parsed.reportMessageId, '<1736849564.8812@arf.mail.yahoo.com>');
  assert.ok(parsed.verpCandidates.includes(`bounces+${JOB}@example.com`));
  // The sample is real MIME: mailparser finds the same three parts.
  const mp = await simpleParser(ARF_ABUSE);
  assert.equal((mp.headers.get('content-type') as { params: Record<string, string> }).params['report-type'], 'feedback-report');
  assert.deepEqual(mp.attachments.map((a) => a.contentType), ['message/feedback-report']);
  assert.match(mp.text ?? '', /Our spring sale starts today/, 'mailparser inlines the message/rfc822 original');
});

test('an ARF with text/rfc822-headers and a redacted recipient; fraud counts as a complaint, not-spam does not', () => {
  const parsed = parseFeedback(ARF_HEADERS_ONLY);
  const r = parsed.report as Extract<typeof parsed.report, { kind: 'arf' }>;
  assert.equal(r.kind, 'arf');
  assert.equal(r.feedbackType, 'fraud');
  assert.equal(r.complaint, true);
  assert.equal(r.originalMailFrom, null);
  // Addresses are compared lower-cased; the VERP job id survives (its alphabet is lower-case).
  assert.equal(r.original?.returnPath, `bounces+${JOB}@example.com`);
  assert.equal(r.original?.messageId, '<msg_01jz8x2k3m4n5p6q7r8s9t0v1w@example.com>');
  const notSpam = parseFeedback(ARF_HEADERS_ONLY.replace('Feedback-Type: fraud', 'Feedback-Type: not-spam'));
  assert.equal((notSpam.report as { complaint: boolean }).complaint, false);
});

test('a Postfix DSN: per-message and per-recipient fields (RFC 3464 §2.2-2.3), permanent on failed + 5.x.x', async () => {
  const parsed = parseFeedback(DSN_UNKNOWN_USER);
  assert.equal(parsed.report.kind, 'dsn');
  const r = parsed.report as Extract<typeof parsed.report, { kind: 'dsn' }>;
  assert.equal(r.reportingMta, 'mx.other.test');
  assert.equal(r.recipients.length, 1);
  assert.deepEqual(r.recipients[0], {
    finalRecipient: 'grace@other.test',
    originalRecipient: 'grace@other.test',
    action: 'failed',
    status: '5.1.1',
    diagnosticType: 'smtp',
    diagnostic: '550 5.1.1 <grace@other.test>: Recipient address rejected: User unknown in virtual mailbox table',
    remoteMta: 'inbound.other.test',
    permanent: true,
  });
  assert.equal(r.original?.messageId, '<msg_01jz8x2k3m4n5p6q7r8s9t0v1w@example.com>');
  // The DSN's own envelope (Delivered-To / X-Original-To) is the VERP address, first in line.
  assert.equal(parsed.verpCandidates[0], `bounces+${JOB}@example.com`);
  const mp = await simpleParser(DSN_UNKNOWN_USER);
  assert.equal((mp.headers.get('content-type') as { params: Record<string, string> }).params['report-type'], 'delivery-status');
  assert.match(mp.text ?? '', /User unknown in virtual/);
});

test('a delay DSN is not permanent', () => {
  const r = parseFeedback(DSN_DELAYED).report as Extract<ReturnType<typeof parseFeedback>['report'], { kind: 'dsn' }>;
  assert.equal(r.recipients[0].action, 'delayed');
  assert.equal(r.recipients[0].status, '4.4.1');
  assert.equal(r.recipients[0].permanent, false);
  assert.equal(r.recipients[0].diagnosticType, 'x-postfix');
});

test('base64 report parts (RFC 2045 §6.8) and a report forwarded inside a multipart/mixed are read', () => {
  const encoded = ARF_ABUSE.replace(
    /Content-Type: message\/feedback-report\r\n\r\n([\s\S]*?)\r\n------=_Part/,
    (_m, fields: string) => `Content-Type: message/feedback-report\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(fields)}\r\n------=_Part`,
  );
  assert.match(encoded, /Content-Transfer-Encoding: base64/);
  assert.equal((parseFeedback(encoded).report as { feedbackType: string }).feedbackType, 'abuse');

  const forwarded = CRLF(`From: postmaster@postlane.example
To: fbl@postlane.example
Subject: Fwd: report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

Forwarded report below.
--outer
Content-Type: message/rfc822

`) + ARF_ABUSE + CRLF(`
--outer--
`);
  const f = parseFeedback(forwarded);
  assert.equal(f.report.kind, 'arf');
  assert.equal((f.report as { original: { returnPath: string } }).original.returnPath, `bounces+${JOB}@example.com`);
});

test('a plain message is no report: kind unknown with a reason, the attached original still read', () => {
  const plain = CRLF(`From: a@b.test\nTo: fbl@postlane.example\nSubject: hi\n\nhello\n`);
  const r = parseFeedback(plain).report;
  assert.equal(r.kind, 'unknown');
  assert.match((r as { reason: string }).reason, /not a multipart\/report/);
  const other = CRLF(`From: a@b.test\nContent-Type: multipart/report; report-type=disposition-notification; boundary=x\n\n--x\nContent-Type: text/plain\n\nread\n--x--\n`);
  assert.match((parseFeedback(other).report as { reason: string }).reason, /report-type=disposition-notification/);
});

test('structure checks name the rule: empty, no header section, NUL, over-long header line', () => {
  assert.match(invalidMessageReason('')!, /empty/);
  assert.match(invalidMessageReason('just some text without fields\r\n')!, /no header section/);
  assert.match(invalidMessageReason('From: a@b.test\r\n\r\nx\0y')!, /NUL/);
  assert.match(invalidMessageReason(`Subject: ${'x'.repeat(1000)}\r\n\r\nbody`)!, /998/);
  assert.equal(invalidMessageReason(ARF_ABUSE), null);
});

test('header unfolding (RFC 5322 §2.2.3), content-type parameters (RFC 2045 §5.1), typed addresses (RFC 3464 §2.1.2)', () => {
  const fields = parseHeaderFields('Subject: a\r\n  folded\r\n\tline\r\nX-A: 1');
  assert.deepEqual(fields, [{ name: 'subject', value: 'a folded line' }, { name: 'x-a', value: '1' }]);
  assert.deepEqual(parseContentType('multipart/report; report-type="feedback-report"; boundary="a \\"b\\""'), {
    type: 'multipart/report',
    params: { 'report-type': 'feedback-report', boundary: 'a "b"' },
  });
  assert.equal(addressOf('rfc822; Grace@Other.test'), 'grace@other.test');
  assert.equal(addressOf('News <news@example.com>'), 'news@example.com');
  assert.equal(addressOf('<>'), null);
  assert.equal(addressOf('not an address'), null);
});
