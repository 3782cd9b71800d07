/**
 * Scheduled mail on our own API: `scheduled_at` as an alias of `send_at`, cancel and
 * reschedule before a node leases the message (each an event in the trace), and the refusal
 * once delivery has started. The hub never leases canceled mail: shown by order, with mail
 * due after the canceled message arriving while the canceled one never does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';

describe('/v1/messages: schedule, cancel, reschedule', () => {
  let sink: Sink;
  let p: Platform;
  const arrived = (id: string) => sink.mails.filter((m) => m.raw.includes(id));
  const msg = (extra: Record<string, unknown> = {}) => ({ from: 'hello@example.com', to: ['a@dest.test', 'b@dest.test'], subject: 'scheduled', text: 'x', ...extra });
  const trace = async (id: string) => (await p.api('GET', `/v1/messages/${id}`)).body;
  const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

  before(async () => {
    sink = await startSink();
    p = await startPlatform({ sinkPort: sink.port });
    await addDomain(p, 'example.com');
    await p.startNode();
  });
  after(async () => {
    await p?.stop();
    await sink?.close();
  });

  test('scheduled_at is send_at by another name; both given must agree', async () => {
    const at = inMs(3_600_000);
    const res = await p.api('POST', '/v1/messages', msg({ scheduled_at: at }));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const view = await trace(res.body.id);
    assert.deepEqual(view.events.map((e: { type: string }) => e.type), ['accepted', 'scheduled']);
    assert.equal(view.events[1].data.send_at, at);
    assert.ok(view.recipients.every((r: { next_attempt_at: string }) => r.next_attempt_at === at));

    const clash = await p.api('POST', '/v1/messages', msg({ send_at: at, scheduled_at: inMs(60_000) }));
    assert.equal(clash.status, 400);
    assert.equal(clash.body.error.field, 'scheduled_at');
    const batch = await p.api('POST', '/v1/messages/batch', { messages: [msg({ scheduled_at: at })] });
    assert.equal(batch.status, 202, JSON.stringify(batch.body));
    assert.equal((await trace(batch.body.data[0].id)).events[1].type, 'scheduled');
  });

  test('cancel: every queued job canceled in one change, an event, never leased, never sent', async () => {
    const doomed = await p.api('POST', '/v1/messages', msg({ send_at: inMs(4_000) }));
    const canceled = await p.api('POST', `/v1/messages/${doomed.body.id}/cancel`);
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    assert.deepEqual(canceled.body, { id: doomed.body.id, status: 'canceled', recipients: 2 });

    // Due after the canceled one, to the same recipients.
    const marker = await p.api('POST', '/v1/messages', msg({ send_at: inMs(5_000), subject: 'marker' }));
    await waitFor(() => arrived(marker.body.id).length === 2, 20_000, 'the marker');
    assert.equal(arrived(doomed.body.id).length, 0);
    const view = await trace(doomed.body.id);
    assert.equal(view.status, 'canceled');
    assert.deepEqual(view.recipients.map((r: { state: string }) => r.state), ['canceled', 'canceled']);
    const types = view.events.map((e: { type: string }) => e.type);
    assert.deepEqual(types, ['accepted', 'scheduled', 'canceled']);
    assert.equal(view.events[2].data.recipients, 2);

    const twice = await p.api('POST', `/v1/messages/${doomed.body.id}/cancel`);
    assert.equal(twice.status, 409);
    const listed = await p.api('GET', '/v1/messages?status=canceled');
    assert.ok(listed.body.data.some((m: { id: string }) => m.id === doomed.body.id));
  });

  test('reschedule: later, then now; the trace keeps both moves in order, and it arrives', async () => {
    const res = await p.api('POST', '/v1/messages', msg({ send_at: inMs(3_600_000), to: 'moved@dest.test' }));
    const id = res.body.id;
    const later = inMs(7_200_000);
    const moved = await p.api('PATCH', `/v1/messages/${id}`, { send_at: later });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.deepEqual(moved.body, { id, status: 'scheduled', recipients: 1, send_at: later });
    assert.equal((await trace(id)).recipients[0].next_attempt_at, later);

    const now = new Date().toISOString();
    assert.equal((await p.api('PATCH', `/v1/messages/${id}`, { scheduled_at: now })).status, 200);
    await waitFor(() => arrived(id).length === 1, 15_000, 'the rescheduled message');
    const events = (await trace(id)).events;
    const types = events.map((e: { type: string }) => e.type);
    assert.deepEqual(types.slice(0, 4), ['accepted', 'scheduled', 'rescheduled', 'rescheduled']);
    assert.deepEqual([events[2].data.previous_send_at, events[2].data.send_at], [events[1].data.send_at, later]);
    assert.equal(events[3].data.previous_send_at, later);
    assert.ok(types.indexOf('leased') > 3);

    // Once sent, neither is possible.
    assert.equal((await p.api('PATCH', `/v1/messages/${id}`, { send_at: inMs(60_000) })).status, 409);
    const late = await p.api('POST', `/v1/messages/${id}/cancel`);
    assert.equal(late.status, 409);
    assert.equal(late.body.error.reason, 'already leased');
  });

  test('reschedule needs a time; an unknown id is 404 before anything else', async () => {
    const res = await p.api('POST', '/v1/messages', msg({ send_at: inMs(3_600_000) }));
    const missing = await p.api('PATCH', `/v1/messages/${res.body.id}`, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, 'send_at');
    assert.equal((await p.api('PATCH', '/v1/messages/msg_nope', {})).status, 404);
    assert.equal((await p.api('POST', '/v1/messages/msg_nope/cancel')).status, 404);
    assert.equal((await p.api('PATCH', `/v1/messages/${res.body.id}`, { send_at: 'tomorrow' })).status, 400);
  });

  test('many messages canceled while the hub leases others: each is whole, canceled or sent, never both', async () => {
    // Due now: the hub races the cancels. Every cancel either applies to every job or is refused.
    const sent = await p.api('POST', '/v1/messages/batch', { messages: Array.from({ length: 200 }, (_, i) => msg({ to: [`race${i}@dest.test`, `race${i}b@dest.test`], subject: `race ${i}` })) });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const ids: string[] = sent.body.data.map((d: { id: string }) => d.id);
    const outcomes = await Promise.all(ids.map(async (id) => ({ id, status: (await p.api('POST', `/v1/messages/${id}/cancel`)).status })));
    assert.ok(outcomes.every((o) => o.status === 200 || o.status === 409), JSON.stringify(outcomes.filter((o) => o.status !== 200 && o.status !== 409)));
    const canceledIds = new Set(outcomes.filter((o) => o.status === 200).map((o) => o.id));
    const sentIds = ids.filter((id) => !canceledIds.has(id));
    await waitFor(async () => {
      for (const id of sentIds) if ((await trace(id)).status !== 'delivered') return false;
      return true;
    }, 60_000, 'the messages not canceled to be delivered');
    for (const id of canceledIds) {
      const view = await trace(id);
      assert.deepEqual(view.recipients.map((r: { state: string }) => r.state), ['canceled', 'canceled'], id);
      assert.ok(!view.events.some((e: { type: string }) => e.type === 'leased'), id);
      assert.equal(arrived(id).length, 0, id);
    }
    for (const id of sentIds) assert.equal(arrived(id).length, 2, id);
  });
});
