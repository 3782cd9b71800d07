import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSmtpReply } from '../../../shared/smtp-reply.ts';
import { classifyReply, CLASS_POLICY, loadClassifier, REPLY_CLASSES, REPLY_RULES, type ReplyClass } from '../../../shared/policy/classifier.ts';
import { planRetry } from '../../../shared/policy/retry.ts';

type Row = [provider: string, raw: string, cls: ReplyClass, rule: string, outcome: 'deferred' | 'bounced'];

// Real provider replies (wording from the postmaster pages and rule sets in
// the provider-replies reference notes; IPs and addresses replaced).
const REAL_REPLIES: Row[] = [
  ['gmail', '421-4.7.0 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily blocked.', 'ip_reputation', 'gmail.421-4.7.0-unusual-rate', 'deferred'],
  ['gmail', '421-4.7.28 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.', 'rate_limited', 'gmail.421-4.7.28', 'deferred'],
  ['gmail', '421-4.7.0 This message is suspicious due to the very low reputation of the sending domain. To best protect our users from spam, the message has been blocked.', 'domain_reputation', 'gmail.domain-reputation', 'deferred'],
  ['gmail', '550-5.7.1 This message is suspicious due to the very low reputation of the sending domain.', 'domain_reputation', 'gmail.domain-reputation', 'bounced'],
  ['gmail', '421-4.7.0 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM).', 'auth_failure', 'gmail.421-4.7.0-no-auth-info', 'deferred'],
  ['gmail', '421-4.7.0 TLS required for RCPT domain, closing connection.', 'policy', 'gmail.4.7.0-tls-required', 'deferred'],
  ['gmail', '450-4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later point.', 'rate_limited', 'gmail.450-4.2.1-too-fast', 'deferred'],
  ['gmail', '452-4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp', 'mailbox_full', 'gmail.452-4.2.2-over-quota', 'deferred'],
  ['gmail', '552-5.2.2 The email account that you tried to reach is over quota and inactive.', 'mailbox_full', 'gmail.552-5.2.2-over-quota', 'deferred'],
  ['gmail', "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos.", 'unknown_user', 'gmail.550-5.1.1-no-such-user', 'bounced'],
  ['gmail', "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.", 'auth_failure', 'gmail.550-5.7.26-unauthenticated', 'bounced'],
  ['gmail', '550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.', 'auth_failure', 'gmail.550-5.7.26-unauthenticated', 'bounced'],
  ['gmail', '421-4.7.27 Your email has been rate limited because SPF authentication didn\'t pass for this message.', 'auth_failure', 'gmail.4.7.27', 'deferred'],
  ['gmail', '550-5.7.27 Your email has been blocked because SPF authentication didn\'t pass for this message.', 'auth_failure', 'gmail.5.7.27', 'bounced'],
  ['gmail', '421-4.7.30 Your email has been rate limited because DKIM authentication didn\'t pass for this message.', 'auth_failure', 'gmail.4.7.30', 'deferred'],
  ['gmail', '550-5.7.30 Your email has been blocked because DKIM authentication didn\'t pass for this message.', 'auth_failure', 'gmail.5.7.30', 'bounced'],
  ['gmail', '421-4.7.32 Your email has been rate limited because the From: header (RFC5322) in this message isn\'t aligned with either the authenticated SPF or DKIM organizational domain.', 'auth_failure', 'gmail.4.7.32', 'deferred'],
  ['gmail', '550-5.7.32 Your email has been blocked because the From: header isn\'t aligned with either the authenticated SPF or DKIM organizational domain.', 'auth_failure', 'gmail.5.7.32', 'bounced'],
  ['gmail', '421-4.7.40 Your email has been rate limited because DMARC policy is not enabled for the sender\'s domain.', 'auth_failure', 'gmail.4.7.40', 'deferred'],
  ['gmail', '550-5.7.40 Your email has been blocked because DMARC policy is not enabled for the sender\'s domain.', 'auth_failure', 'gmail.5.7.40', 'bounced'],
  ['microsoft', '451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) [Name=Protocol Filter Agent]', 'ip_reputation', 'microsoft.451-4.7.650', 'deferred'],
  ['microsoft', '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653', 'blocklisted', 'microsoft.550-5.7.708', 'deferred'],
  ['microsoft', "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", 'blocklisted', 'microsoft.550-5.7.1-S3150', 'deferred'],
  ['microsoft', '550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/', 'blocklisted', 'microsoft.550-5.7.606', 'deferred'],
  ['microsoft', '550 5.7.515 Access denied, sending domain example.com does not meet the required authentication level.', 'auth_failure', 'microsoft.550-5.7.515', 'bounced'],
  ['microsoft', '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302).', 'unknown_user', 'microsoft.550-5.5.0-mailbox-unavailable', 'bounced'],
  ['microsoft', '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)', 'unknown_user', 'microsoft.550-5.4.1-recipient-rejected', 'bounced'],
  ['yahoo', '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes', 'ip_reputation', 'yahoo.421-4.7.0-TSS04', 'deferred'],
  ['yahoo', '421 4.7.0 [TSS05] Messages from 192.0.2.1 temporarily deferred due to user complaints - 4.16.56.1; see https://postmaster.yahooinc.com/error-codes', 'ip_reputation', 'yahoo.421-4.7.0-TSS05', 'deferred'],
  ['yahoo', '421 4.7.0 [IPTS05] Messages from 192.0.2.1 temporarily deferred due to user complaints - 4.16.56.1', 'ip_reputation', 'yahoo.421-4.7.0-IPTS05', 'deferred'],
  ['yahoo', '421 4.7.1 [TS03] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes', 'blocklisted', 'yahoo.421-4.7.1-TS03', 'deferred'],
  ['yahoo', "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes", 'blocklisted', 'yahoo.553-5.7.1-BL', 'deferred'],
  ['yahoo', '554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.bf1.yahoo.com', 'mailbox_disabled', 'yahoo.554-30-disabled', 'bounced'],
  ['yahoo', "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com", 'unknown_user', 'yahoo.554-delivery-error', 'bounced'],
  // Generic fallbacks (RFC 3463 class.subject.detail, then class.subject, then RFC 5321 code)
  ['other', '550 5.1.1 <a@example.org>: Recipient address rejected', 'unknown_user', 'rfc3463.x.1.1', 'bounced'],
  ['other', '450 4.1.1 <a@example.org>: Recipient address verification temporarily unavailable', 'unknown_user', 'rfc3463.x.1.1', 'deferred'],
  ['other', '552 5.2.2 Mailbox over storage limit', 'mailbox_full', 'rfc3463.x.2.2', 'deferred'],
  ['other', '550 5.2.1 Mailbox disabled', 'mailbox_disabled', 'rfc3463.x.2.1', 'bounced'],
  ['other', '451 4.4.1 No answer from host', 'network', 'rfc3463.x.4', 'deferred'],
  ['other', '554 5.6.0 Message content rejected', 'content', 'rfc3463.x.6', 'bounced'],
  ['other', '550 5.7.1 Message refused', 'policy', 'rfc3463.x.7.1', 'bounced'],
  ['other', '550 5.7.23 SPF validation failed', 'auth_failure', 'rfc3463.x.7.23', 'bounced'],
  ['other', '451 4.3.0 Temporary local problem', 'other_transient', 'rfc3463.x.3', 'deferred'],
  ['other', '421 Service not available, closing transmission channel', 'other_transient', 'rfc5321.421', 'deferred'],
  ['other', '550 Rejected', 'other_permanent', 'rfc5321.550', 'bounced'],
  ['other', '550 User unknown', 'unknown_user', 'any.unknown-user-wording', 'bounced'],
  ['other', '554 Your IP 192.0.2.1 is blocked using zen.spamhaus.org', 'blocklisted', 'any.dnsbl-listed', 'deferred'],
  // Some receivers answer a throttle with 5xx: the table decides, not the digit.
  ['other', '550 5.7.1 Too many messages from your IP, rate limited, try later', 'rate_limited', 'any.rate-limit-wording', 'deferred'],
  // A Microsoft 365 custom domain whose MX was not resolved to "microsoft" still matches.
  ['other', '451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.', 'ip_reputation', 'microsoft.451-4.7.650', 'deferred'],
  ['gmail', '421 4.7.0 Try again later, closing connection. gsmtp', 'rate_limited', 'gmail.421-4.7.0-try-again-later', 'deferred'],
  ['microsoft', '421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel', 'rate_limited', 'any.concurrent-connections', 'deferred'],
  // Gmail's 4.7.27 means SPF; elsewhere X.7.27 is RFC 7505 null MX, so Gmail's rows stay Gmail's.
  ['other', '550 5.7.27 Sender address has null MX', 'policy', 'rfc3463.x.7', 'bounced'],
];

test(`classifies ${REAL_REPLIES.length} real replies`, () => {
  assert.ok(REAL_REPLIES.filter(([p]) => p !== 'other').length >= 30);
  for (const [provider, raw, cls, rule, outcome] of REAL_REPLIES) {
    const reply = parseSmtpReply(raw);
    assert.ok(reply, raw);
    const c = classifyReply(reply, { provider });
    assert.deepEqual([c.class, c.rule, c.outcome], [cls, rule, outcome], raw);
  }
});

test('class policies: hard classes suppress on bounce only, breaker signals and pool actions', () => {
  const rcpt = (raw: string, provider = 'other') => classifyReply(parseSmtpReply(raw), { provider });
  const unknown = rcpt('550 5.1.1 no such user');
  assert.equal(unknown.suppressRecipient, true);
  assert.equal(unknown.signal, 'bounce');
  assert.equal(rcpt('450 4.1.1 try later').suppressRecipient, false);
  assert.equal(rcpt('554 delivery error: dd This mailbox is disabled (554.30)', 'yahoo').suppressRecipient, true);
  const tss04 = rcpt('421 4.7.0 [TSS04] Messages temporarily deferred', 'yahoo');
  assert.deepEqual([tss04.poolAction, tss04.signal], ['suspend_ip_for_provider', 'block']);
  const gmailRate = rcpt('421 4.7.28 rate limited', 'gmail');
  assert.deepEqual([gmailRate.poolAction, gmailRate.signal], ['throttle', 'throttle']);
  const perRecipient = rcpt('450 4.2.1 receiving mail too quickly', 'gmail');
  assert.deepEqual([perRecipient.poolAction, perRecipient.signal], ['none', 'none']);
  assert.equal(rcpt('550 5.7.26 unauthenticated', 'gmail').poolAction, 'pause_domain');
  assert.equal(rcpt('550 5.7.708 traffic not accepted', 'microsoft').poolAction, 'suspend_ip_for_provider');
});

test('no reply is a network deferral named by stage', () => {
  const c = classifyReply(null, { provider: 'gmail', error: 'connect ECONNREFUSED 192.0.2.1:25', stage: 'CONN' });
  assert.deepEqual([c.class, c.rule, c.outcome, c.signal, c.suppressRecipient], ['network', 'network.conn', 'deferred', 'none', false]);
  assert.equal(classifyReply(null, { provider: 'other', stage: 'MAIL FROM' }).rule, 'network.mail_from');
  assert.equal(classifyReply(null, { provider: 'other' }).rule, 'network.conn');
});

test('every class has a valid schedule usable by planRetry', () => {
  for (const cls of REPLY_CLASSES) assert.ok(CLASS_POLICY[cls], cls);
  const c = classifyReply(parseSmtpReply('421 4.7.28 rate limited'), { provider: 'gmail' });
  assert.deepEqual(c.schedule, { initialMs: 600_000, factor: 2, maxDelayMs: 7_200_000, jitter: 0.5, ttlMs: 72 * 3600_000 });
  const d = planRetry({ attempts: 1, acceptedAt: 0, now: 0, schedule: c.schedule, random: () => 1 });
  assert.deepEqual(d, { action: 'retry', at: 600_000, delayMs: 600_000 });
  // The schedule is a copy: a caller mutating it does not change the table.
  c.schedule.initialMs = 1;
  assert.equal(classifyReply(parseSmtpReply('421 4.7.28 x'), { provider: 'gmail' }).schedule.initialMs, 600_000);
});

test('rule ids are unique and every row cites a source', () => {
  const ids = REPLY_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const r of REPLY_RULES) assert.ok(r.source.length > 3, r.id);
});

test('operator overrides: new rows win, classes change, unknown keys are refused', () => {
  const table = loadClassifier({
    rules: [
      { id: 'ops.gmx-too-many', provider: 'gmx', match: { code: 421, text: 'too many connections' }, class: 'rate_limited', source: 'ops runbook 7' },
      { id: 'gmail.550-5.1.1-no-such-user', provider: 'gmail', match: { enhanced: '5.1.1' }, class: 'unknown_user', source: 'kept, with a note' },
    ],
    classes: { rate_limited: { schedule: { initial: '20m' } } },
  });
  const c = classifyReply(parseSmtpReply('421 gmx.net too many connections'), { provider: 'gmx' }, table);
  assert.deepEqual([c.class, c.rule, c.schedule.initialMs, c.schedule.maxDelayMs], ['rate_limited', 'ops.gmx-too-many', 1_200_000, 7_200_000]);
  assert.equal(table.rules.find((r) => r.id === 'gmail.550-5.1.1-no-such-user')?.source, 'kept, with a note');
  assert.equal(table.rules.length, REPLY_RULES.length + 1);
  // The shipped table is untouched.
  assert.equal(classifyReply(parseSmtpReply('421 4.7.28 x'), { provider: 'gmail' }).schedule.initialMs, 600_000);
  const bad: Array<[unknown, RegExp]> = [
    [{ classes: { rate_limited: { schedule: { inital: '1m' } } } }, /classes\.rate_limited\.schedule\.inital: unknown key/],
    [{ classes: { slow: {} } }, /classes\.slow: unknown key/],
    [{ classes: { network: { schedule: { initial: '5h' } } } }, /classes\.network\.schedule: retry max "1h" is shorter than initial "5h"/],
    [{ rules: [{ id: 'x', provider: 'gmail', match: {}, class: 'content', source: 's' }] }, /rules\.0\.match: match needs/],
    [{ rules: [{ id: 'x', provider: 'gmail', match: { code: 550 }, class: 'spam', source: 's' }] }, /rules\.0\.class/],
  ];
  for (const [input, pattern] of bad) assert.throws(() => loadClassifier(input), (e: Error) => pattern.test(e.message), JSON.stringify(input));
});
