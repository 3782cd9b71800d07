/**
 * The official `resend` SDK, unmodified, pointed at Postlane the way a Resend user switches:
 * RESEND_BASE_URL and a Postlane key. What it sends arrives at a real SMTP sink (parsed with
 * mailparser); scheduling, cancel, reschedule and idempotent retries keep their Resend meaning.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { Resend } from 'resend';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';

describe('resend SDK: emails', () => {
  let sink: Sink;
  let p: Platform;
  let resend: Resend;
  const arrived = (id: string) => sink.mails.filter((m) => m.raw.includes(id));

  before(async () => {
    sink = await startSink();
    p = await startPlatform({ sinkPort: sink.port });
    await addDomain(p, 'example.com');
    await p.startNode();
    // The two-line switch of the README.
    process.env.RESEND_BASE_URL = p.edge.url;
    resend = new Resend(p.edge.apiKey);
  });

  after(async () => {
    delete process.env.RESEND_BASE_URL;
    await p?.stop();
    await sink?.close();
  });

  test('emails.send: what arrives is what was sent; emails.get tells it back', async () => {
    const { data, error } = await resend.emails.send({
      from: 'Acme Team <hello@example.com>',
      to: ['ada@dest.test'],
      cc: 'linus@dest.test',
      bcc: ['grace@dest.test'],
      replyTo: 'support@example.com',
      subject: 'Welcome aboard ✓',
      html: '<p>Hello <b>Ada</b></p>',
      text: 'Hello Ada',
      headers: { 'X-Campaign': 'welcome-1' },
      tags: [{ name: 'kind', value: 'welcome' }],
      attachments: [{ filename: 'notes.txt', content: Buffer.from('numbers: 1 2 3') }],
    });
    assert.equal(error, null, JSON.stringify(error));
    assert.match(data!.id, /^msg_/);

    await waitFor(() => arrived(data!.id).length === 3, 15_000, 'three deliveries');
    assert.deepEqual(arrived(data!.id).flatMap((m) => m.to).sort(), ['ada@dest.test', 'grace@dest.test', 'linus@dest.test']);
    const parsed = await simpleParser(arrived(data!.id)[0].raw);
    assert.equal(parsed.subject, 'Welcome aboard ✓');
    assert.equal(parsed.from?.value[0].name, 'Acme Team');
    assert.equal(parsed.from?.value[0].address, 'hello@example.com');
    assert.equal(parsed.replyTo?.value[0].address, 'support@example.com');
    assert.equal(parsed.html, '<p>Hello <b>Ada</b></p>');
    assert.equal(parsed.text?.trim(), 'Hello Ada');
    assert.equal(parsed.headers.get('x-campaign'), 'welcome-1');
    assert.equal(parsed.headers.get('bcc'), undefined, 'Bcc is never written into the message');
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0].filename, 'notes.txt');
    // The SDK sends no content type; it is derived from the file name, as Resend does.
    assert.equal(parsed.attachments[0].contentType, 'text/plain');
    assert.equal(parsed.attachments[0].content.toString(), 'numbers: 1 2 3');

    const got = await waitFor(async () => {
      const r = await resend.emails.get(data!.id);
      return r.data?.last_event === 'delivered' && r;
    }, 15_000, 'last_event delivered');
    assert.equal(got.error, null);
    const email = got.data!;
    assert.equal(email.object, 'email');
    assert.equal(email.id, data!.id);
    assert.deepEqual(email.to, ['ada@dest.test']);
    assert.deepEqual(email.cc, ['linus@dest.test']);
    assert.deepEqual(email.bcc, ['grace@dest.test']);
    assert.deepEqual(email.reply_to, ['support@example.com']);
    assert.equal(email.subject, 'Welcome aboard ✓');
    assert.equal(email.html, '<p>Hello <b>Ada</b></p>');
    assert.equal(email.text?.trim(), 'Hello Ada');
    assert.equal(email.scheduled_at, null);
    assert.deepEqual(email.tags, [{ name: 'kind', value: 'welcome' }]);
    assert.equal(email.message_id, parsed.messageId);
  });

  test('batch.send: every email committed at once, each delivered, lanes chosen by tag', async () => {
    const { data, error } = await resend.batch.send([
      { from: 'hello@example.com', to: 'b1@dest.test', subject: 'first of two', text: 'one' },
      { from: 'hello@example.com', to: 'b2@dest.test', subject: 'second of two', text: 'two', tags: [{ name: 'lane', value: 'lifecycle' }] },
    ]);
    assert.equal(error, null, JSON.stringify(error));
    assert.equal(data!.data.length, 2);
    const [first, second] = data!.data.map((d) => d.id);
    await waitFor(() => arrived(first).length === 1 && arrived(second).length === 1, 15_000, 'both delivered');
    assert.deepEqual(arrived(first)[0].to, ['b1@dest.test']);
    assert.deepEqual(arrived(second)[0].to, ['b2@dest.test']);
    const lanes = await Promise.all([first, second].map(async (id) => (await p.api('GET', `/v1/messages/${id}`)).body.lane));
    assert.deepEqual(lanes, ['transactional', 'lifecycle']);
  });

  test('the X-Postlane-Lane request header picks the lane of every email in the request', async () => {
    const { data, error } = await resend.emails.send(
      { from: 'hello@example.com', to: 'lane@dest.test', subject: 'lane by header', text: 'x' },
      { headers: { 'X-Postlane-Lane': 'lifecycle' } },
    );
    assert.equal(error, null, JSON.stringify(error));
    assert.equal((await p.api('GET', `/v1/messages/${data!.id}`)).body.lane, 'lifecycle');
  });

  test('scheduled then canceled: never leased, never arrives, while mail due after it does', async () => {
    const soon = new Date(Date.now() + 4_000).toISOString();
    const scheduled = await resend.emails.send({ from: 'hello@example.com', to: 'later@dest.test', subject: 'to be canceled', text: 'x', scheduledAt: soon });
    assert.equal(scheduled.error, null, JSON.stringify(scheduled.error));
    const id = scheduled.data!.id;
    const before = await resend.emails.get(id);
    assert.equal(before.data!.last_event, 'scheduled');
    assert.equal(before.data!.scheduled_at, soon);

    const canceled = await resend.emails.cancel(id);
    assert.equal(canceled.error, null, JSON.stringify(canceled.error));
    assert.deepEqual(canceled.data, { object: 'email', id });
    assert.equal((await resend.emails.get(id)).data!.last_event, 'canceled');

    // Due after the canceled one: once it has arrived, the hub has passed the canceled one's time.
    const marker = await resend.emails.send({ from: 'hello@example.com', to: 'later@dest.test', subject: 'due after', text: 'y', scheduledAt: new Date(Date.now() + 5_000).toISOString() });
    await waitFor(() => arrived(marker.data!.id).length === 1, 20_000, 'the later marker');
    assert.equal(arrived(id).length, 0);
    const trace = (await p.api('GET', `/v1/messages/${id}`)).body;
    assert.equal(trace.status, 'canceled');
    assert.deepEqual(trace.recipients.map((r: { state: string }) => r.state), ['canceled']);
    assert.ok(!trace.events.some((e: { type: string }) => e.type === 'leased'), JSON.stringify(trace.events));

    const again = await resend.emails.cancel(id);
    assert.equal(again.error?.name, 'validation_error');
    assert.equal(again.error?.statusCode, 422);
  });

  test('emails.update reschedules: a message due in an hour, moved to now, arrives', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const sent = await resend.emails.send({ from: 'hello@example.com', to: 'moved@dest.test', subject: 'moved up', text: 'x', scheduledAt: later });
    const id = sent.data!.id;
    const now = new Date().toISOString();
    const updated = await resend.emails.update({ id, scheduledAt: now });
    assert.equal(updated.error, null, JSON.stringify(updated.error));
    assert.deepEqual(updated.data, { object: 'email', id });
    assert.equal((await resend.emails.get(id)).data!.scheduled_at, now);
    await waitFor(() => arrived(id).length === 1, 15_000, 'the rescheduled message');
    const types = (await p.api('GET', `/v1/messages/${id}`)).body.events.map((e: { type: string }) => e.type);
    assert.ok(types.indexOf('scheduled') < types.indexOf('rescheduled') && types.indexOf('rescheduled') < types.indexOf('leased'), types.join(' '));
  });

  test('an idempotent retry sends once and answers the first response; another body under the key is 409', async () => {
    const email = { from: 'hello@example.com', to: 'once@dest.test', subject: 'exactly once', text: 'x' };
    const first = await resend.emails.send(email, { idempotencyKey: 'signup-42' });
    const retry = await resend.emails.send(email, { idempotencyKey: 'signup-42' });
    assert.equal(first.error, null);
    assert.deepEqual(retry.data, first.data);
    // A later message to the same address: once it is in, the first one is too, and only once.
    const marker = await resend.emails.send({ ...email, subject: 'marker' });
    await waitFor(() => arrived(marker.data!.id).length === 1, 15_000, 'the marker');
    await waitFor(() => arrived(first.data!.id).length === 1, 15_000, 'the first');
    assert.equal(sink.mails.filter((m) => m.to.includes('once@dest.test')).length, 2);

    const other = await resend.emails.send({ ...email, subject: 'another body' }, { idempotencyKey: 'signup-42' });
    assert.equal(other.data, null);
    assert.equal(other.error?.name, 'invalid_idempotent_request');
    assert.equal(other.error?.statusCode, 409);

    const batch = [{ ...email, to: 'batch-once@dest.test' }];
    const b1 = await resend.batch.send(batch, { idempotencyKey: 'batch-7' });
    const b2 = await resend.batch.send(batch, { idempotencyKey: 'batch-7' });
    assert.deepEqual(b2.data, b1.data);
  });
});
