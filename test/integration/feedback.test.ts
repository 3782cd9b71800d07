/**
 * Feedback, suppression and the complaint guard-rails end to end: the real edge (API, lease hub,
 * Shaper), a real MTA node over WebSocket, and the provider simulator, whose recipients report
 * spam as ARF reports POSTed to /v1/inbound. Each scenario has its own platform and simulator so
 * breaker state never leaks between them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type Platform } from '../helpers/platform.ts';
import { startSimulated, view, reputation, FROM } from '../helpers/simulated.ts';
import type { ProviderSimulator } from '../simulator/provider-sim.ts';
import { breakerConfig, DEFAULT_BREAKER } from '../../shared/policy/breaker.ts';
import { verpAddress } from '../../shared/verp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const setup = startSimulated;

async function inbound(p: Platform, raw: string, opts: { key?: string; contentType?: string; query?: string } = {}) {
  const res = await fetch(`${p.edge.url}/v1/inbound${opts.query ?? ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.key ?? p.edge.apiKey}`, 'content-type': opts.contentType ?? 'message/rfc822' },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function send(p: Platform, body: Record<string, unknown>) {
  const res = await p.api('POST', '/v1/messages', { from: FROM, subject: 'hello', text: 'x', ...body });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body as { id: string; status: string; recipients: number; suppressed?: string[] };
}

const delivered = (p: Platform, id: string) => waitFor(async () => ((await view(p, id)).status === 'delivered' ? view(p, id) : null), 10_000, `${id} delivered`);

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

describe('feedback: suppression list API and the check at accept', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  before(async () => ({ sim, p } = await setup()));
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('POST validates each field by name; a listed address keeps its first reason', async () => {
    const bad = await p.api('POST', '/v1/suppressions', { address: 'not-an-address' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'address');
    assert.ok(bad.body.error.reason);
    const badReason = await p.api('POST', '/v1/suppressions', { address: 'x@other.test', reason: 'angry' });
    assert.equal(badReason.status, 400);
    assert.equal(badReason.body.error.field, 'reason');
    const unknown = await p.api('POST', '/v1/suppressions', { address: 'x@other.test', colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.body.error), /colour/);
    const missing = await p.api('POST', '/v1/suppressions', { reason: 'manual' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, 'address');

    const created = await p.api('POST', '/v1/suppressions', { address: 'Gone@Other.TEST', reason: 'unsubscribe', note: 'asked by phone' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.address, 'gone@other.test');
    assert.equal(created.body.reason, 'unsubscribe');
    assert.equal(created.body.source, 'asked by phone');
    const again = await p.api('POST', '/v1/suppressions', { address: 'gone@other.test', reason: 'manual' });
    assert.equal(again.status, 200);
    assert.equal(again.body.reason, 'unsubscribe', 'the first reason stands');
  });

  test('GET filters by reason and address and pages with next_cursor; DELETE removes, then 404', async () => {
    for (const a of ['m1@other.test', 'm2@other.test', 'm3@gmail.com']) assert.equal((await p.api('POST', '/v1/suppressions', { address: a })).status, 201);
    const manual = await p.api('GET', '/v1/suppressions?reason=manual');
    assert.equal(manual.status, 200);
    assert.deepEqual(manual.body.data.map((s: any) => s.address), ['m3@gmail.com', 'm2@other.test', 'm1@other.test']);
    const contains = await p.api('GET', '/v1/suppressions?contains=GMAIL');
    assert.deepEqual(contains.body.data.map((s: any) => s.address), ['m3@gmail.com']);
    const page1 = await p.api('GET', '/v1/suppressions?limit=2');
    assert.equal(page1.body.data.length, 2);
    assert.ok(page1.body.next_cursor);
    const page2 = await p.api('GET', `/v1/suppressions?limit=2&cursor=${page1.body.next_cursor}`);
    const seen = [...page1.body.data, ...page2.body.data].map((s: any) => s.address);
    assert.equal(new Set(seen).size, seen.length, 'pages do not overlap');
    const badCursor = await p.api('GET', '/v1/suppressions?cursor=abc');
    assert.equal(badCursor.status, 400);
    assert.equal(badCursor.body.error.field, 'cursor');
    const badLimit = await p.api('GET', '/v1/suppressions?limit=0');
    assert.equal(badLimit.status, 400);
    assert.equal(badLimit.body.error.field, 'limit');

    const del = await p.api('DELETE', `/v1/suppressions/${encodeURIComponent('M1@other.test')}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.deepEqual(del.body, { address: 'm1@other.test', deleted: true });
    const gone = await p.api('DELETE', '/v1/suppressions/m1@other.test');
    assert.equal(gone.status, 404);
    const badDel = await p.api('DELETE', '/v1/suppressions/nonsense');
    assert.equal(badDel.status, 400);
    assert.equal(badDel.body.error.field, 'address');
  });

  test('the OpenAPI document describes the suppression and inbound routes', async () => {
    const doc = await (await fetch(`${p.edge.url}/openapi.json`)).json();
    assert.ok(doc.paths['/v1/suppressions'].get && doc.paths['/v1/suppressions'].post);
    assert.ok(doc.paths['/v1/suppressions/{address}'].delete);
    assert.ok(doc.paths['/v1/inbound'].post.requestBody.content['message/rfc822']);
    assert.ok(doc.components.schemas.InboundResult && doc.components.schemas.Suppression);
  });

  test('a key without the scope is refused, naming it', async () => {
    const tenant = await p.api('POST', '/v1/tenants', { name: 'reader', scopes: ['read'] });
    assert.equal(tenant.status, 201);
    const key = tenant.body.api_key;
    const res = await p.api('POST', '/v1/suppressions', { address: 'y@other.test' }, { authorization: `Bearer ${key}` });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.scope, 'send');
    const del = await p.api('DELETE', '/v1/suppressions/gone@other.test', undefined, { authorization: `Bearer ${key}` });
    assert.equal(del.status, 403);
    assert.equal(del.body.error.scope, 'admin');
  });

  test('a suppressed recipient gets no delivery job to send; the others are delivered; the 202 lists it', async () => {
    await p.api('POST', '/v1/suppressions', { address: 'blocked@other.test' });
    const res = await send(p, { to: ['Blocked@other.test', 'fine@other.test'] });
    assert.equal(res.status, 'queued');
    assert.equal(res.recipients, 1);
    assert.deepEqual(res.suppressed, ['Blocked@other.test']);
    const v = await waitFor(async () => {
      const m = await view(p, res.id);
      return m.recipients.find((r: any) => r.recipient === 'fine@other.test').state === 'delivered' && m;
    }, 10_000, 'the other recipient delivered');
    const job = v.recipients.find((r: any) => r.recipient === 'Blocked@other.test');
    assert.equal(job.state, 'suppressed');
    const ev = v.events.find((e: any) => e.type === 'suppressed');
    assert.equal(ev.job_id, job.job_id);
    assert.match(ev.data.reason, /suppression list \(manual\)/);

    const all = await send(p, { to: 'blocked@other.test' });
    assert.equal(all.status, 'suppressed', 'all suppressed: still 202, status suppressed');
    assert.equal(all.recipients, 0);
    await sleep(300);
    assert.equal((await view(p, all.id)).status, 'suppressed');
    assert.equal(sim.providers.other.events.filter((e) => e.rcpt?.toLowerCase() === 'blocked@other.test').length, 0, 'the provider never saw it');

    const batch = await p.api('POST', '/v1/messages/batch', { messages: [{ from: FROM, to: 'blocked@other.test', subject: 's', text: 'x' }, { from: FROM, to: 'ok2@other.test', subject: 's', text: 'x' }] });
    assert.equal(batch.status, 202);
    assert.deepEqual(batch.body.data.map((m: any) => m.status), ['suppressed', 'queued']);
    assert.deepEqual(batch.body.data[0].suppressed, ['blocked@other.test']);
  });
});

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

describe('feedback: a pool over the complaint threshold enters slow start and returns to full rate', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  const WINDOW_MS = 10_000;
  before(async () => {
    ({ sim, p } = await setup({
      ips: ['127.0.0.1', '127.0.0.2'],
      sim: { other: { complains: (rcpt) => /^c\d+@/.test(rcpt) } },
      shaper: {
        // Short clock: over 5 % complaints in 10 sends within 10 s start slow start at 60/min, doubling every second to 600/min.
        breaker: breakerConfig({
          ...DEFAULT_BREAKER,
          window: '10s',
          bucket: '1s',
          minVolume: 10,
          slowStartOn: { complaintRate: 0.05, bounceRate: 0.5, blocks: 100 },
          openOn: { complaintRate: 0.9, bounceRate: 0.9, blocks: 200 },
          coolDown: '5s',
          slowStartInterval: '1s',
          floor: '60/min',
          full: '600/min',
        }),
      },
    }));
  });
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('complaints cross the threshold: slow start within one breaker window, visible in /v1/reputation; healthy again, full rate', async () => {
    const other = sim.providers.other;
    // Three recipients who complain, then seven who do not: 3 complaints in 10 sends = 30 %.
    const angry = await p.api('POST', '/v1/messages/batch', { messages: [0, 1, 2].map((i) => ({ from: FROM, to: `c${i}@other.test`, subject: 'sale', text: 'x' })) });
    assert.equal(angry.status, 202);
    await waitFor(() => other.events.filter((e) => e.kind === 'complained').length >= 3, 10_000, 'three complaints posted');
    const firstComplaint = other.events.find((e) => e.kind === 'complained')!.at;
    const calm = await p.api('POST', '/v1/messages/batch', { messages: Array.from({ length: 7 }, (_, i) => ({ from: FROM, to: `k${i}@other.test`, subject: 'sale', text: 'x' })) });
    assert.equal(calm.status, 202);
    const entered = await waitFor(async () => {
      const r = await reputation(p);
      return r.events.find((e) => e.type === 'breaker' && e.scope === 'pool' && e.key === 'default' && e.to === 'slow_start');
    }, WINDOW_MS, 'pool default in slow start');
    assert.match(entered.reason, /complaint rate \d+\.\d+% > 5\.00%/);
    assert.equal(entered.from, 'closed');
    assert.ok(entered.data.metrics.complained >= 3 && entered.data.metrics.sent >= 10, JSON.stringify(entered.data.metrics));
    assert.ok(Date.parse(entered.at) - firstComplaint < WINDOW_MS, 'within one breaker window of the first complaint');
    const domain = (await reputation(p)).events.find((e) => e.scope === 'domain' && e.key.endsWith('|example.com') && e.to === 'slow_start');
    assert.ok(domain, 'the sender domain breaker saw the same rate');
    const enteredAt = Date.parse(entered.at);

    // Mail through the pool moves at the slow-start rate, then ramps back.
    const slowBatch = await p.api('POST', '/v1/messages/batch', { messages: Array.from({ length: 20 }, (_, i) => ({ from: FROM, to: `s${i}@other.test`, subject: 'x', text: 'x' })) });
    assert.equal(slowBatch.status, 202);
    const closed = await waitFor(async () => {
      const r = await reputation(p);
      return r.events.find((e) => e.type === 'breaker' && e.scope === 'pool' && e.key === 'default' && e.from === 'slow_start' && e.to === 'closed');
    }, 15_000, 'slow start to end');
    assert.match(closed.reason, /full rate/);
    const closedAt = Date.parse(closed.at);
    const slow = other.count('accepted', enteredAt, closedAt);
    // 60→120→240→480/min over ~4 s: about 1+2+4+8 with burst; far under full rate (10/s × 4 s).
    assert.ok(slow <= 2 + 16 + 4, `${slow} sent in ${(closedAt - enteredAt) / 1000}s of slow start`);
    const state = (await reputation(p)).breakers.find((b) => b.scope === 'pool' && b.key === 'default')!;
    assert.equal(state.state, 'closed');
    assert.equal(state.rate_per_min, 600);
    assert.ok(!(await reputation(p)).events.some((e) => e.scope === 'pool' && e.to === 'open'), 'never paused outright');

    // Jobs held in slow start keep the spacing they were given (1/s); fresh mail goes at full rate.
    const fresh = Date.now();
    await p.api('POST', '/v1/messages/batch', { messages: Array.from({ length: 40 }, (_, i) => ({ from: FROM, to: `f${i}@other.test`, subject: 'x', text: 'x' })) });
    await waitFor(() => other.events.filter((e) => e.kind === 'accepted' && e.rcpt!.startsWith('f')).length >= 40, 15_000, 'the 40 fresh ones delivered');
    const freshSeconds = (Math.max(...other.events.filter((e) => e.kind === 'accepted' && e.rcpt!.startsWith('f')).map((e) => e.at)) - fresh) / 1000;
    // Full rate: two IPs × 5/s for other.test.
    assert.ok(freshSeconds <= 40 / 10 + 2, `40 fresh messages took ${freshSeconds}s after the breaker closed`);
  });
});

describe('feedback: outreach pauses when complaints rise, and says why', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  before(async () => {
    ({ sim, p } = await setup({ sim: { other: { complains: (rcpt) => rcpt.startsWith('cold') } } }));
    // Outreach at any hour for the test; pause above 10 % complaints once 5 were sent.
    const put = await p.api('PUT', '/v1/policies', { lanes: { outreach: { sendWindow: null, outreach: { pauseOnComplaintRate: 0.1, pauseMinVolume: 5, dailyCap: 1000 } } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('over the policy rate: new outreach is refused with 429 naming the pause, queued outreach is held, other lanes move, /v1/reputation shows it', async () => {
    const outreach = (to: string, extra: Record<string, unknown> = {}) => p.api('POST', '/v1/messages', { from: 'sales@example.com', to, subject: 'intro', text: 'x', lane: 'outreach', ...extra });
    // Queued before the pause, due after it: the hub must hold it.
    const later = await outreach('lead-later@other.test', { send_at: new Date(Date.now() + 8_000).toISOString() });
    assert.equal(later.status, 202, JSON.stringify(later.body));
    for (const to of ['cold1@other.test', 'cold2@other.test', 'lead1@other.test', 'lead2@other.test', 'lead3@other.test', 'lead4@other.test']) {
      assert.equal((await outreach(to)).status, 202);
    }
    const paused = await waitFor(async () => {
      const r = await reputation(p);
      return r.events.find((e) => e.scope === 'outreach' && e.key === 'default|example.com' && e.to === 'open');
    }, 8_000, 'the outreach pause');
    assert.match(paused.reason, /^outreach paused: complaint rate \d+\.\d+% > 10\.00% over \d+ sends \(policy outreach\.pauseOnComplaintRate 0\.1, pauseMinVolume 5\)/);
    assert.ok(paused.data.open_until > Date.parse(paused.at));
    const rep = await reputation(p);
    assert.equal(rep.breakers.find((b) => b.scope === 'outreach' && b.key === 'default|example.com')?.state, 'open');
    assert.ok(rep.events.some((e) => e.scope === 'outreach' && e.key === 'default' && e.to === 'open'), 'the tenant-wide pause too');

    const refused = await waitFor(async () => {
      const r = await outreach('lead9@other.test');
      return r.status === 429 && r;
    }, 3_000, 'new outreach refused');
    assert.equal(refused.body.error.limit, 'outreach_complaint_pause');
    assert.match(refused.body.error.message, /paused by complaints: outreach paused: complaint rate/);
    assert.ok(Date.parse(refused.body.error.resumes_at) > Date.now());
    assert.ok(Number(refused.headers.get('retry-after')) > 0);

    const transactional = await send(p, { to: 'receipt@other.test' });
    await delivered(p, transactional.id);

    const held = await waitFor(async () => {
      const v = await view(p, later.body.id);
      return v.events.some((e: any) => e.type === 'throttled') && v;
    }, 15_000, 'the queued outreach job held');
    const hold = held.events.find((e: any) => e.type === 'throttled');
    assert.match(hold.data.limit, /^outreach_pause:default/);
    assert.match(hold.data.reason, /paused/);
    assert.equal(held.recipients[0].state, 'queued');
    assert.ok(!sim.providers.other.events.some((e) => e.rcpt === 'lead-later@other.test'), 'never sent');
  });
});
