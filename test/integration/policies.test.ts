/** Policies are data per tenant, lane and sending domain; the API reads and sets them; outreach guard-rails hold. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, addDomain, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';

describe('policies and outreach guard-rails', () => {
  let p: Platform;
  let sink: Sink;
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

  const outreach = (to: string) => ({ from: 'sales@example.com', to, subject: 'hello', text: 'x', lane: 'outreach' });

  test('a policy with an unknown key or a bad unit is refused with the path and reason', async () => {
    const unknown = await p.api('PUT', '/v1/policies', { lanes: { outreach: { colour: 'red' } } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.reason, /colour/);
    const badUnit = await p.api('PUT', '/v1/policies', { lanes: { outreach: { tenantRate: 'fast' } } });
    assert.equal(badUnit.status, 400);
    assert.match(badUnit.body.error.reason, /tenantRate/);
  });

  test('a zero rate is refused, naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ lanes: { outreach: { tenantRate: '0/min' } } }, 'lanes.outreach.tenantRate'],
      [{ lanes: { lifecycle: { senderDomainRate: '0/s' } } }, 'lanes.lifecycle.senderDomainRate'],
      [{ lanes: { outreach: { aimd: { floor: '0/min' } } } }, 'lanes.outreach.aimd.floor'],
    ];
    for (const [body, field] of cases) {
      const res = await p.api('PUT', '/v1/policies', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
      assert.match(res.body.error.reason, /more than 0/);
    }
  });

  test('the policy is stored, versioned and resolved per lane', async () => {
    const before = await p.api('GET', '/v1/policies');
    assert.equal(before.status, 200);
    assert.ok(before.body.resolved.outreach.outreach, 'outreach guard-rails are on by default');
    assert.equal(before.body.resolved.transactional.outreach, null);
    const put = await p.api('PUT', '/v1/policies', { lanes: { outreach: { quota: { dailyCap: 3 } } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.version, before.body.version + 1);
    assert.equal(put.body.resolved.outreach.quota.dailyCap, 3);
    assert.ok(put.body.resolved.outreach.layers.includes('tenants.default.lanes.outreach'));
  });

  test('outreach refuses role accounts and disposable domains, naming the recipient', async () => {
    const role = await p.api('POST', '/v1/messages', outreach('info@prospect.test'));
    assert.equal(role.status, 400);
    assert.equal(role.body.error.field, 'to');
    assert.match(role.body.error.reason, /role account/);
    const disposable = await p.api('POST', '/v1/messages', outreach('someone@mailinator.com'));
    assert.equal(disposable.status, 400);
    assert.match(disposable.body.error.reason, /disposable/);
    const transactional = await p.api('POST', '/v1/messages', { ...outreach('info@prospect.test'), lane: 'transactional' });
    assert.equal(transactional.status, 202, 'the guard-rails are the outreach lane’s, not every lane’s');
  });

  test('the outreach daily cap holds: 429 naming the cap, with Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await p.api('POST', '/v1/messages', { ...outreach(`lead${i}@prospect.test`), constraints: { send_window: { timezone: 'UTC', start_hour: 0, end_hour: 24 } } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    const over = await p.api('POST', '/v1/messages', outreach('lead9@prospect.test'));
    assert.equal(over.status, 429);
    assert.equal(over.body.error.limit, 'outreach_daily_cap');
    assert.ok(Number(over.headers.get('retry-after')) > 0);
  });

  test("a lane's send window from policy holds a message outside it, and the trace says why", async () => {
    const hour = new Date().getUTCHours();
    const start = `${String((hour + 2) % 24).padStart(2, '0')}:00`;
    const end = `${String((hour + 3) % 24).padStart(2, '0')}:00`;
    const put = await p.api('PUT', '/v1/policies', { lanes: { lifecycle: { sendWindow: { days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start, end } } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const res = await p.api('POST', '/v1/messages', { from: 'news@example.com', to: 'reader@dest.test', subject: 'later', text: 'x', lane: 'lifecycle' });
    assert.equal(res.status, 202);
    const view = await waitFor(async () => {
      const m = (await p.api('GET', `/v1/messages/${res.body.id}`)).body;
      return m.events.some((e: any) => e.type === 'throttled') && m;
    }, 8_000, 'the send-window hold');
    const held = view.events.find((e: any) => e.type === 'throttled');
    assert.equal(held.data.limit, 'send_window');
    assert.equal(view.recipients[0].state, 'queued');
    assert.ok(Date.parse(view.recipients[0].next_attempt_at) > Date.now() + 3600_000);
    assert.equal(sink.mails.filter((m) => m.to.includes('reader@dest.test')).length, 0);
  });

  test('outreach checks that the recipient domain takes mail (MX), refusing or flagging as the policy says', async () => {
    p.dns.zone.set('nxdomain.test', { nxdomain: true });
    p.dns.zone.set('gone.test', {}); // exists, no MX and no address
    p.dns.zone.set('nullmx.test', { mx: [{ preference: 0, exchange: '.' }] });
    p.dns.zone.set('implicit.test', { a: ['192.0.2.10'] });
    p.dns.zone.set('flaky.test', { servfail: true });
    const put = await p.api('PUT', '/v1/policies', { lanes: { outreach: { quota: { dailyCap: 100 } } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const anyTime = { constraints: { send_window: { timezone: 'UTC', start_hour: 0, end_hour: 24 } } };

    for (const domain of ['nxdomain.test', 'gone.test', 'nullmx.test']) {
      const res = await p.api('POST', '/v1/messages', { ...outreach(`lead@${domain}`), ...anyTime });
      assert.equal(res.status, 400, `${domain}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, 'to');
      assert.match(res.body.error.reason, new RegExp(`lead@${domain.replace('.', '\\.')}: .*(MX|mail)`, 'i'));
    }
    // RFC 5321 §5.1: an address record alone is an implicit MX. A DNS failure is not a refusal.
    for (const domain of ['implicit.test', 'flaky.test']) {
      const res = await p.api('POST', '/v1/messages', { ...outreach(`lead@${domain}`), ...anyTime });
      assert.equal(res.status, 202, `${domain}: ${JSON.stringify(res.body)}`);
    }
    // `flag`: queued, and the trace records why it would have been refused.
    const flag = await p.api('PUT', '/v1/policies', { lanes: { outreach: { quota: { dailyCap: 100 }, outreach: { verification: 'flag' } } } });
    assert.equal(flag.status, 200, JSON.stringify(flag.body));
    const flagged = await p.api('POST', '/v1/messages', { ...outreach('lead@nullmx.test'), ...anyTime });
    assert.equal(flagged.status, 202, JSON.stringify(flagged.body));
    const view = (await p.api('GET', `/v1/messages/${flagged.body.id}`)).body;
    const event = view.events.find((e: any) => e.type === 'recipient_flagged');
    assert.ok(event, JSON.stringify(view.events));
    assert.deepEqual(event.data.flags, ['no_mx']);
  });
});
