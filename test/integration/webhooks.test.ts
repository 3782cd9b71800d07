/**
 * Webhooks end to end on the Node edge: real receivers on loopback (node:http), deliveries
 * verified with the `standardwebhooks` package, per-message order, gap-free stream sequences,
 * a flaky receiver and a down one, an edge restart mid-stream, SSRF refusals, secret rotation,
 * dead letters and their replay, and an endpoint disabled for failing.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { MESSAGE_EVENT_TYPES } from '../../shared/events/message.ts';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';
import { checkStream, Receiver } from '../helpers/webhook-receiver.ts';

async function eventCount(p: Platform): Promise<number> {
  const rs = await p.edge.client.execute("SELECT count(*) AS n FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.subject LIKE 'wh %'");
  return Number(rs.rows[0].n);
}

async function createHook(p: Platform, url: string, extra: Record<string, unknown> = {}) {
  const res = await p.api('POST', '/v1/webhooks', { url, event_types: MESSAGE_EVENT_TYPES, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(res.body.secret, /^whsec_/);
  return res.body as { id: string; secret: string };
}

describe('webhooks: ordered, verified, at least once', () => {
  let sink: Sink;
  let p: Platform;
  const flaky = new Receiver();
  const down = new Receiver();

  before(async () => {
    sink = await startSink();
    p = await startPlatform({
      sinkPort: sink.port,
      env: {
        POSTLANE_WEBHOOK_ALLOW: '127.0.0.1/32',
        POSTLANE_WEBHOOK_RETRY_INITIAL_MS: '20',
        POSTLANE_WEBHOOK_RETRY_MAX_MS: '400',
        POSTLANE_WEBHOOK_DISABLE_AFTER: '1000000',
      },
    });
    await addDomain(p, 'hooks.test');
    await p.startNode();
  });
  after(async () => {
    await p.stop();
    await sink.close();
    await flaky.close();
    await down.close();
  });

  test('a private, loopback or metadata URL is refused at create with 400 naming url', async () => {
    for (const url of ['http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data', 'http://127.0.0.2/', 'http://[::1]/', 'http://100.64.0.1/', 'http://[fd00::1]/', 'http://[::ffff:10.0.0.1]/', 'ftp://example.com/']) {
      const res = await p.api('POST', '/v1/webhooks', { url, event_types: ['delivered'] });
      assert.equal(res.status, 400, `${url}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, 'url', url);
    }
    const bad = await p.api('POST', '/v1/webhooks', { url: 'http://127.0.0.1/', event_types: ['no_such_event'] });
    assert.equal(bad.status, 400);
  });

  test('300 messages: every event reaches a 30 %-failing receiver and a receiver that was down, across an edge restart', async () => {
    await flaky.listen();
    let seed = 7;
    flaky.fail = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) < 0.3;
    // The second receiver's port is taken, then given up: connection refused until it listens again.
    await down.listen();
    const downPort = down.port;
    await down.close();
    const a = await createHook(p, flaky.url);
    const b = await createHook(p, down.url);
    flaky.secrets = [a.secret];
    down.secrets = [b.secret];

    for (let i = 0; i < 3; i++) {
      const messages = Array.from({ length: 100 }, (_, j) => ({ from: 'app@hooks.test', to: `r${i * 100 + j}@dest.test`, subject: `wh ${i * 100 + j}`, text: 'x' }));
      const res = await p.api('POST', '/v1/messages/batch', { messages });
      assert.ok(res.status < 300, JSON.stringify(res.body).slice(0, 500));
      if (i === 1) {
        await waitFor(() => flaky.ok.length > 50, 20_000, 'deliveries under way');
        await p.restartEdge();
      }
    }
    await waitFor(() => sink.mails.length >= 300, 60_000, 'all 300 mails at the sink');
    await new Promise((r) => setTimeout(r, 1500));
    await down.listen(downPort);
    // Settled: every job finished, so no more events come.
    const expected = await waitFor(async () => {
      const rs = await p.edge.client.execute("SELECT count(*) AS n FROM delivery_jobs WHERE state IN ('queued','leased')");
      return Number(rs.rows[0].n) === 0 && (await eventCount(p));
    }, 30_000, 'jobs to finish');
    await waitFor(() => flaky.unique().length >= expected && down.unique().length >= expected, 60_000, `${expected} deliveries at each receiver`);
    checkStream(flaky, expected);
    checkStream(down, expected);
    assert.ok(flaky.requests > expected, 'the flaky receiver made the sender retry');
    const view = await p.api('GET', `/v1/webhooks/${a.id}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.last_sequence, expected);
    assert.equal(view.body.status, 'enabled');
    assert.ok(!JSON.stringify(view.body).includes(a.secret), 'the secret is not shown again');
  });

  test('rotation: during the overlap each delivery carries two signatures, and both secrets verify it', async () => {
    const r = new Receiver();
    await r.listen();
    try {
      const hook = await createHook(p, r.url, { event_types: ['accepted'] });
      r.secrets = [hook.secret];
      const rotated = await p.api('POST', `/v1/webhooks/${hook.id}/rotate-secret`, {});
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      assert.notEqual(rotated.body.secret, hook.secret);
      assert.ok(rotated.body.previous_secret_expires_at, 'the overlap is shown');
      const sent = await p.api('POST', '/v1/messages', { from: 'app@hooks.test', to: 'rot@dest.test', subject: 'wh rotation', text: 'x' });
      assert.equal(sent.status, 202);
      const got = await waitFor(() => r.ok.find((x) => x.body.message_id === sent.body.id), 15_000, 'the delivery');
      assert.equal(got.headers['webhook-signature'].split(' ').length, 2);
      for (const s of [hook.secret, rotated.body.secret]) assert.doesNotThrow(() => new Webhook(s).verify(got.raw, got.headers));
    } finally {
      await r.close();
    }
  });

  test('list, get, update, delete', async () => {
    const hook = await createHook(p, 'http://127.0.0.1:9/x', { event_types: ['delivered'], enabled: false, lanes: ['transactional'] });
    const list = await p.api('GET', '/v1/webhooks');
    assert.ok(list.body.data.some((w: any) => w.id === hook.id && w.status === 'disabled'));
    const upd = await p.api('PATCH', `/v1/webhooks/${hook.id}`, { event_types: ['bounced'], lanes: null });
    assert.equal(upd.status, 200);
    assert.deepEqual(upd.body.event_types, ['bounced']);
    assert.equal(upd.body.lanes, null);
    assert.equal((await p.api('PATCH', `/v1/webhooks/${hook.id}`, { url: 'http://10.1.2.3/' })).body.error.field, 'url');
    assert.equal((await p.api('DELETE', `/v1/webhooks/${hook.id}`)).status, 200);
    assert.equal((await p.api('GET', `/v1/webhooks/${hook.id}`)).status, 404);
  });
});

describe('webhooks: dead letters, replay, disabling', () => {
  let sink: Sink;
  let p: Platform;
  const r = new Receiver();

  before(async () => {
    sink = await startSink();
    p = await startPlatform({
      sinkPort: sink.port,
      env: { POSTLANE_WEBHOOK_ALLOW: '127.0.0.1/32', POSTLANE_WEBHOOK_RETRY_WINDOW_MS: '1500', POSTLANE_WEBHOOK_RETRY_INITIAL_MS: '20', POSTLANE_WEBHOOK_RETRY_MAX_MS: '200', POSTLANE_WEBHOOK_DISABLE_AFTER: '1000000' },
    });
    await addDomain(p, 'hooks.test');
    await p.startNode();
    await r.listen();
  });
  after(async () => {
    await p.stop();
    await sink.close();
    await r.close();
  });

  test('deliveries failing for the whole window are dead letters; the endpoint is disabled; replay delivers them', async () => {
    r.fail = () => true;
    const hook = await createHook(p, r.url, { event_types: ['accepted'] });
    r.secrets = [hook.secret];
    const started = new Date().toISOString();
    for (let i = 0; i < 3; i++) assert.equal((await p.api('POST', '/v1/messages', { from: 'app@hooks.test', to: `d${i}@dest.test`, subject: `wh dead ${i}`, text: 'x' })).status, 202);
    const dead = await waitFor(async () => {
      const res = await p.api('GET', `/v1/webhooks/${hook.id}/dead-letters`);
      return res.body.data?.length === 3 && res.body.data;
    }, 20_000, 'three dead letters');
    assert.ok(dead.every((d: any) => d.attempts > 1 && d.type === 'accepted' && d.last_status === 500));
    const disabled = await waitFor(async () => {
      const v = await p.api('GET', `/v1/webhooks/${hook.id}`);
      return v.body.status === 'disabled_by_platform' && v.body;
    }, 10_000, 'the endpoint disabled');
    assert.match(disabled.disabled.reason, /failing since|in a row/);

    r.fail = () => false;
    assert.equal((await p.api('PATCH', `/v1/webhooks/${hook.id}`, { enabled: true })).body.status, 'enabled');
    const one = await p.api('POST', `/v1/webhooks/${hook.id}/dead-letters/${dead[0].id}/replay`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    await waitFor(() => r.ok.some((x) => x.id === dead[0].id), 10_000, 'the replayed delivery');
    assert.equal((await p.api('POST', `/v1/webhooks/${hook.id}/dead-letters/${dead[0].id}/replay`)).status, 404, 'no longer dead');
    const rest = await p.api('POST', `/v1/webhooks/${hook.id}/dead-letters/replay`, { since: started });
    assert.deepEqual(rest.body, { replayed: 2 });
    await waitFor(() => r.unique().length === 3, 10_000, 'all three delivered');
    assert.equal(r.badSignatures, 0);
    assert.equal((await p.api('GET', `/v1/webhooks/${hook.id}/dead-letters`)).body.data.length, 0);
  });
});
