/**
 * Feedback end to end, complaints and bounces: ARF reports and DSNs POSTed to /v1/inbound, matched
 * to their job, suppressing the recipient. The real edge, a real MTA node and the provider
 * simulator, whose recipients report spam. The suppression API is in feedback.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type Platform } from '../helpers/platform.ts';
import { startSimulated, view, FROM } from '../helpers/simulated.ts';
import { delivered, inbound, send, sleep } from '../helpers/feedback.ts';
import type { ProviderSimulator } from '../simulator/provider-sim.ts';
import { verpAddress } from '../../shared/verp.ts';

const setup = startSimulated;

/** A Postfix-style DSN (RFC 3464) for one recipient, addressed to `envelopeTo`. */
function dsn(opts: { envelopeTo?: string; recipient: string; messageId: string; status?: string; diagnostic?: string; action?: string }) {
  const status = opts.status ?? '5.1.1';
  const lines = [
    'Return-Path: <>',
    ...(opts.envelopeTo ? [`Delivered-To: ${opts.envelopeTo}`, `To: ${opts.envelopeTo}`] : ['To: bounces@elsewhere.test']),
    'From: MAILER-DAEMON@mx.other.test (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    'Message-Id: <20250114100310.4B2C1A0C2D@mx.other.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.other.test',
    '',
    `Final-Recipient: rfc822; ${opts.recipient}`,
    `Action: ${opts.action ?? 'failed'}`,
    `Status: ${status}`,
    'Remote-MTA: dns; inbound.other.test',
    `Diagnostic-Code: smtp; ${opts.diagnostic ?? `550 ${status} <${opts.recipient}>: Recipient address rejected: User unknown in virtual mailbox table`}`,
    '',
    '--B1',
    'Content-Type: text/rfc822-headers',
    '',
    `From: ${FROM}`,
    `To: ${opts.recipient}`,
    `Message-ID: ${opts.messageId}`,
    'Subject: hello',
    '',
    '--B1--',
    '',
  ];
  return lines.join('\r\n');
}

describe('feedback: complaints and bounces through /v1/inbound', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  before(async () => ({ sim, p } = await setup({ sim: { other: { complains: (rcpt) => rcpt.startsWith('angry') }, microsoft: { complains: (rcpt) => rcpt.startsWith('angry'), blockAfterComplaints: 2 } } })));
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('a complained recipient is suppressed (reason complaint), its trace says so, and a later send to it is not delivered', async () => {
    const first = await send(p, { to: 'angry@other.test' });
    await delivered(p, first.id);
    const v = await waitFor(async () => {
      const m = await view(p, first.id);
      return m.events.some((e: any) => e.type === 'complained') && m;
    }, 10_000, 'the complained event');
    const complained = v.events.find((e: any) => e.type === 'complained');
    assert.equal(complained.data.feedback_type, 'abuse');
    assert.equal(complained.data.user_agent, 'SimFBL/1.0');
    assert.equal(v.status, 'delivered', 'a complaint does not undo the delivery');
    const posted = sim.providers.other.events.find((e) => e.kind === 'complained')!;
    assert.match(posted.reply!, /^202 .*"matched":true.*"matched_by":"verp"/);

    const list = await p.api('GET', '/v1/suppressions?reason=complaint');
    const row = list.body.data.find((s: any) => s.address === 'angry@other.test');
    assert.ok(row, JSON.stringify(list.body));
    assert.equal(row.message_id, first.id);
    assert.match(row.source, /ARF Feedback-Type abuse from SimFBL/);

    const later = await send(p, { to: 'angry@other.test' });
    assert.equal(later.status, 'suppressed');
    assert.deepEqual(later.suppressed, ['angry@other.test']);
    await sleep(500);
    assert.equal(sim.providers.other.count('accepted') - sim.providers.other.events.filter((e) => e.kind === 'accepted' && e.rcpt !== 'angry@other.test').length, 1, 'delivered once, never again');

    // The same report piped twice counts once.
    const again = await inbound(p, buildReportFor(v));
    assert.equal(again.status, 202);
    assert.equal(again.body.duplicate, true);
    assert.deepEqual(again.body.actions, []);
  });

  test('a DSN hard bounce for a delivered job: bounced asynchronously, suppressed, matched by VERP or by Message-ID', async () => {
    const m = await send(p, { to: ['grace@other.test', 'henry@other.test'] });
    const v = await delivered(p, m.id);
    const grace = v.recipients.find((r: any) => r.recipient === 'grace@other.test');
    const res = await inbound(p, dsn({ envelopeTo: verpAddress(grace.job_id, 'example.com'), recipient: 'grace@other.test', messageId: v.message_id_header }));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.matched, true);
    assert.equal(res.body.kind, 'bounce');
    assert.equal(res.body.matched_by, 'verp');
    assert.equal(res.body.job_id, grace.job_id);
    assert.deepEqual(res.body.actions, ['transition:delivered->bounced', 'event', 'suppressed', 'signal:bounce']);

    // No VERP in sight: the original Message-ID and the DSN's Final-Recipient find the job.
    const byId = await inbound(p, dsn({ recipient: 'henry@other.test', messageId: v.message_id_header }));
    assert.equal(byId.body.matched, true, JSON.stringify(byId.body));
    assert.equal(byId.body.matched_by, 'message_id');
    assert.equal(byId.body.recipient, 'henry@other.test');

    const after = await view(p, m.id);
    for (const r of after.recipients) assert.equal(r.state, 'bounced');
    const bounced = after.events.filter((e: any) => e.type === 'bounced');
    assert.equal(bounced.length, 2);
    assert.equal(bounced[0].data.async, true);
    assert.equal(bounced[0].data.class, 'unknown_user');
    const list = await p.api('GET', '/v1/suppressions?reason=hard_bounce');
    assert.ok(['grace@other.test', 'henry@other.test'].every((a) => list.body.data.some((s: any) => s.address === a)), JSON.stringify(list.body));
    // Piped again: nothing more happens.
    const again = await inbound(p, dsn({ envelopeTo: verpAddress(grace.job_id, 'example.com'), recipient: 'grace@other.test', messageId: v.message_id_header }));
    assert.equal(again.body.duplicate, true);
    // A policy bounce (5.7.1 content) is a bounce but does not suppress.
    const p2 = await send(p, { to: 'ivy@other.test' });
    const v2 = await delivered(p, p2.id);
    const policy = await inbound(p, dsn({ recipient: 'ivy@other.test', messageId: v2.message_id_header, status: '5.7.1', diagnostic: '554 5.7.1 Message rejected as spam by Content Filtering' }));
    assert.equal(policy.body.matched, true);
    assert.ok(!policy.body.actions.includes('suppressed'), JSON.stringify(policy.body));
  });

  test('a synchronous hard bounce (550 5.1.1 at RCPT) lists the recipient with its transition', async () => {
    const m = await send(p, { to: 'nobody7@other.test' });
    await waitFor(async () => (await view(p, m.id)).status === 'bounced', 10_000, 'bounced');
    const list = await p.api('GET', '/v1/suppressions?contains=nobody7');
    assert.equal(list.body.data.length, 1);
    assert.equal(list.body.data[0].reason, 'hard_bounce');
    assert.match(list.body.data[0].source, /^550 5\.1\.1 /);
    const later = await send(p, { to: 'nobody7@other.test' });
    assert.equal(later.status, 'suppressed');
  });

  test('/v1/inbound validates: media type 415, empty or headerless body 400, too large 413, bad envelope_to 400; no match is 202 matched=false', async () => {
    const wrongType = await inbound(p, 'From: a@b.test\r\n\r\nx', { contentType: 'application/json' });
    assert.equal(wrongType.status, 415);
    assert.equal(wrongType.body.error.field, 'content-type');
    const empty = await inbound(p, '');
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.field, 'body');
    const headerless = await inbound(p, 'hello there, no headers here');
    assert.equal(headerless.status, 400);
    assert.match(headerless.body.error.reason, /RFC 5322/);
    const badEnvelope = await inbound(p, 'From: a@b.test\r\n\r\nx', { query: '?envelope_to=nope' });
    assert.equal(badEnvelope.status, 400);
    assert.equal(badEnvelope.body.error.field, 'envelope_to');
    const huge = await inbound(p, `From: a@b.test\r\n\r\n${'x'.repeat(11 * 1024 * 1024)}`);
    assert.equal(huge.status, 413);

    const plain = await inbound(p, 'From: someone@else.test\r\nSubject: hi\r\n\r\nnot a report');
    assert.equal(plain.status, 202);
    assert.equal(plain.body.matched, false);
    assert.equal(plain.body.kind, 'unknown');
    assert.match(plain.body.reason, /multipart\/report/);
    const stranger = await inbound(p, dsn({ envelopeTo: 'bounces+job_00000000000000000000000000@example.com', recipient: 'x@other.test', messageId: '<msg_0000000000aaaaaaaaaaaaaaaa@example.com>' }));
    assert.equal(stranger.status, 202);
    assert.equal(stranger.body.matched, false);
    assert.match(stranger.body.reason, /Message-ID <msg_0000000000aaaaaaaaaaaaaaaa@example.com>/);
  });

  test('the simulated provider blocks after N complaints, with its real block reply', async () => {
    const ms = sim.providers.microsoft;
    for (const to of ['angry1@outlook.com', 'angry2@outlook.com']) await delivered(p, (await send(p, { to })).id);
    await waitFor(() => ms.events.filter((e) => e.kind === 'complained').length >= 2, 10_000, 'two complaints');
    assert.ok(ms.events.filter((e) => e.kind === 'complained').every((e) => /^202 .*"kind":"complaint"/.test(e.reply!)));
    const m = await send(p, { to: 'calm@outlook.com' });
    const blocked = await waitFor(() => ms.first('blocked'), 10_000, 'a block reply');
    assert.match(blocked.reply!, /^550 5\.7\.1 .*\(S3150\)/);
    const v = await waitFor(async () => {
      const x = await view(p, m.id);
      return x.events.some((e: any) => e.type === 'deferred') && x;
    }, 10_000, 'the blocked attempt in the trace');
    assert.match(v.events.find((e: any) => e.type === 'deferred').data.reply, /S3150/);
  });

  test("scopes: a send-only key may not post reports; another tenant's feedback key cannot reach this tenant's jobs", async () => {
    const m = await send(p, { to: 'jules@other.test' });
    const v = await delivered(p, m.id);
    const report = dsn({ envelopeTo: verpAddress(v.recipients[0].job_id, 'example.com'), recipient: 'jules@other.test', messageId: v.message_id_header });
    const sender = await p.api('POST', '/v1/tenants', { name: 'sender', scopes: ['send'] });
    const refused = await inbound(p, report, { key: sender.body.api_key });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.scope, 'feedback');
    const fbl = await p.api('POST', '/v1/tenants', { name: 'their-fbl', scopes: ['feedback'] });
    const foreign = await inbound(p, report, { key: fbl.body.api_key });
    assert.equal(foreign.status, 202);
    assert.equal(foreign.body.matched, false, 'the tenant comes from the job, and this job is not theirs');
    assert.equal((await view(p, m.id)).status, 'delivered');
  });
});

/** Rebuilds the simulator's ARF report for a delivered job (the same fields it POSTed). */
function buildReportFor(v: any): string {
  const job = v.recipients[0];
  return [
    'From: abuse@other.test',
    'To: fbl@postlane.test',
    'Subject: FW: report',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="R"',
    '',
    '--R',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: SimFBL/1.0',
    'Version: 1',
    `Original-Mail-From: <${verpAddress(job.job_id, 'example.com')}>`,
    '',
    '--R',
    'Content-Type: text/rfc822-headers',
    '',
    `Message-ID: ${v.message_id_header}`,
    '',
    '--R--',
    '',
  ].join('\r\n');
}
