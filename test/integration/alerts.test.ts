/**
 * Alerts end to end: a sink that starts answering 421 for one recipient domain mid-run raises a
 * deferral-spike alert for that domain (with the numbers that tripped it), delivered as an
 * `alert.raised` webhook that `standardwebhooks` verifies; one open alert however many rounds
 * see the spike; resolved (and `alert.resolved` sent, after the raise) once the domain takes
 * mail again. A breaker opening and closing (a stored policy event, as the hub writes it)
 * raises and resolves a breaker-trip alert; a webhook endpoint failing in a row raises a
 * webhook-failing alert for its tenant, resolved when it delivers again. The evaluation interval
 * is set small; no time bound is asserted.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { smtpError, startSink, type Sink } from '../mta-node/helpers.ts';
import { policyEvent, policyRecord } from '../../shared/events/index.ts';

class Receiver {
  server: Server | null = null;
  port = 0;
  secret = '';
  verified: any[] = [];
  badSignatures = 0;

  async listen() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          this.verified.push(new Webhook(this.secret).verify(raw, req.headers as Record<string, string>));
        } catch {
          this.badSignatures++;
          return void res.writeHead(400).end();
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close() {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe('alerts', () => {
  let sink: Sink;
  let p: Platform;
  let deferSlow = false;
  const receiver = new Receiver();
  let n = 0;

  const send = async (domain: string, count: number) => {
    const messages = Array.from({ length: count }, () => ({ from: 'ops@alerts.test', to: `u${n++}@${domain}`, subject: 'alerting', text: 'x' }));
    const res = await p.api('POST', '/v1/messages/batch', { messages });
    assert.ok(res.status < 300, JSON.stringify(res.body).slice(0, 300));
  };
  const alerts = async (q = '') => (await p.api('GET', `/v1/alerts${q}`)).body.data as any[];

  before(async () => {
    sink = await startSink({ onRcpt: (to) => (deferSlow && to.endsWith('@slow.test') ? smtpError(421, '4.7.0 try again later') : null) });
    p = await startPlatform({
      sinkPort: sink.port,
      env: { POSTLANE_ALERT_INTERVAL_MS: '200', POSTLANE_WEBHOOK_ALLOW: '127.0.0.1/32', POSTLANE_WEBHOOK_RETRY_INITIAL_MS: '20', POSTLANE_WEBHOOK_RETRY_MAX_MS: '200', POSTLANE_WEBHOOK_DISABLE_AFTER: '1000000' },
    });
    await addDomain(p, 'alerts.test');
    await p.startNode();
    await receiver.listen();
    const hook = await p.api('POST', '/v1/webhooks', { url: `http://127.0.0.1:${receiver.port}/alerts`, event_types: ['alert.raised', 'alert.resolved'] });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    receiver.secret = hook.body.secret;
  });

  after(async () => {
    await p?.stop();
    await sink?.close();
    await receiver.close();
  });

  test('rules: defaults, an operator change, and a bad value refused with its field', async () => {
    const defaults = await p.api('GET', '/v1/alerts/rules');
    assert.equal(defaults.status, 200);
    const spike = defaults.body.data.find((r: any) => r.id === 'deferral_spike');
    assert.deepEqual([spike.enabled, spike.settings.window_ms, spike.customized_at], [true, 120_000, null]);
    const put = await p.api('PUT', '/v1/alerts/rules', { rules: { deferral_spike: { window_ms: 5_000, min_volume: 10, min_rate: 0.3 } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const changed = put.body.data.find((r: any) => r.id === 'deferral_spike');
    assert.deepEqual([changed.settings.window_ms, changed.settings.min_volume, changed.settings.factor], [5_000, 10, 3]);
    assert.ok(changed.customized_at);
    const bad = await p.api('PUT', '/v1/alerts/rules', { rules: { deferral_spike: { factor: 0 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.field, /factor/);
    assert.equal((await p.api('PUT', '/v1/alerts/rules', { rules: { no_such_rule: {} } })).status, 400);
  });

  test('a deferral spike on one domain raises one alert with its numbers, sent by webhook, and resolves', async () => {
    await send('ok.test', 30);
    await send('slow.test', 30);
    await waitFor(async () => Number((await p.edge.client.execute("SELECT count(*) AS n FROM delivery_jobs WHERE state = 'delivered'")).rows[0].n) === 60, 60_000, 'healthy traffic delivered');
    assert.equal((await alerts('?state=open')).filter((a) => a.rule === 'deferral_spike').length, 0, 'no alert while the domain takes mail');

    deferSlow = true;
    await send('slow.test', 40);
    const raised = await waitFor(async () => (await alerts('?state=open')).find((a) => a.rule === 'deferral_spike' && a.subject === 'domain:slow.test'), 120_000, 'the spike alert');
    assert.ok(raised.numbers.rate >= raised.numbers.threshold, JSON.stringify(raised.numbers));
    assert.ok(raised.numbers.volume >= 10 && raised.numbers.events > 0);
    assert.equal(raised.numbers.threshold, 0.3, 'no deferrals in the baseline: the minimum rate decides');
    assert.match(raised.summary, /slow\.test/);
    assert.equal(raised.tenant, null, 'a platform alert');
    const hook = await waitFor(() => receiver.verified.find((v) => v.type === 'alert.raised' && v.data.subject === 'domain:slow.test'), 30_000, 'alert.raised webhook');
    assert.equal(hook.data.id, raised.id);
    assert.equal(hook.data.numbers.events, raised.numbers.events);
    assert.equal(hook.message_event_index, 1);

    // Several evaluation rounds see the spike: still one open alert for the subject.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal((await alerts()).filter((a) => a.rule === 'deferral_spike' && a.subject === 'domain:slow.test').length, 1, 'de-duplicated');

    deferSlow = false;
    await send('slow.test', 20);
    const resolved = await waitFor(async () => (await alerts('?state=resolved')).find((a) => a.id === raised.id), 180_000, 'the alert to resolve');
    assert.ok(resolved.resolved_at >= resolved.raised_at);
    assert.ok(resolved.resolved_numbers);
    const done = await waitFor(() => receiver.verified.find((v) => v.type === 'alert.resolved' && v.data.id === raised.id), 30_000, 'alert.resolved webhook');
    assert.equal(done.message_event_index, 2);
    const order = receiver.verified.filter((v) => v.data.id === raised.id).map((v) => v.type);
    assert.deepEqual(order, ['alert.raised', 'alert.resolved'], 'raised, then resolved, once each');
    assert.equal(receiver.badSignatures, 0);
    const seqs = receiver.verified.map((v) => v.sequence);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'the endpoint stream is in sequence');
  });

  test('a breaker opening raises a breaker-trip alert; closing resolves it', async () => {
    const breaker = (from: string, to: string) =>
      policyRecord(policyEvent('breaker', { scope: 'pool', key: 'bulk-7', from, to, reason: `test ${to}`, at: Date.now(), data: { metrics: { sent: 300, bounced: 40, complained: 0, blocked: 0, bounceRate: 0.133, complaintRate: 0 }, rate_per_min: 0 } }));
    await p.edge.store.appendPolicyEvents([breaker('closed', 'open')]);
    const open = await waitFor(async () => (await alerts('?state=open')).find((a) => a.subject === 'breaker:pool:bulk-7'), 30_000, 'breaker alert');
    assert.equal(open.rule, 'breaker_trip');
    assert.equal(open.numbers.metrics.bounceRate, 0.133);
    await p.edge.store.appendPolicyEvents([breaker('open', 'slow_start')]);
    await new Promise((r) => setTimeout(r, 600));
    assert.ok((await alerts('?state=open')).some((a) => a.id === open.id), 'slow start is not closed yet');
    await p.edge.store.appendPolicyEvents([breaker('slow_start', 'closed')]);
    await waitFor(async () => (await alerts('?state=resolved')).find((a) => a.id === open.id), 30_000, 'breaker alert resolved');
  });
  test('a webhook endpoint failing in a row raises an alert for its tenant; a success resolves it', async () => {
    let failing = true;
    const flaky = createServer((_req, res) => void res.writeHead(failing ? 503 : 204).end());
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    try {
      const put = await p.api('PUT', '/v1/alerts/rules', { rules: { webhook_failing: { min_failures: 3 } } });
      assert.equal(put.status, 200);
      const hook = await p.api('POST', '/v1/webhooks', { url: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/x`, event_types: ['delivered'] });
      assert.equal(hook.status, 201);
      await send('ok.test', 1);
      const open = await waitFor(async () => (await alerts('?state=open')).find((a) => a.subject === `webhook:${hook.body.id}`), 60_000, 'webhook-failing alert');
      assert.equal(open.rule, 'webhook_failing');
      assert.equal(open.tenant, 'default', "the endpoint's tenant");
      assert.ok(open.numbers.consecutive_failures >= 3, JSON.stringify(open.numbers));
      await waitFor(() => receiver.verified.find((v) => v.type === 'alert.raised' && v.data.id === open.id), 30_000, 'its alert.raised webhook');
      failing = false;
      await waitFor(async () => (await alerts('?state=resolved')).find((a) => a.id === open.id), 60_000, 'webhook-failing alert resolved');
    } finally {
      flaky.closeAllConnections();
      await new Promise<void>((r) => flaky.close(() => r()));
    }
  });
});
