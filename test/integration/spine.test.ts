/**
 * The spine end to end in embedded mode: the real edge on Node with a libSQL file, MTA nodes over
 * a real WebSocket, a real smtp-server sink on loopback, DKIM verified with mailauth.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { authenticate } from 'mailauth';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { startSink, smtpError, type Sink } from '../mta-node/helpers.ts';

async function messageStatus(p: Platform, id: string) {
  return (await p.api('GET', `/v1/messages/${id}`)).body;
}

describe('spine: accept, store, lease, deliver', () => {
  let sink: Sink;
  let p: Platform;
  let dns: Array<{ purpose: string; name: string; value: string }>;
  const rcptAttempts = new Map<string, number>();

  before(async () => {
    sink = await startSink({
      onRcpt(to) {
        const n = (rcptAttempts.get(to) ?? 0) + 1;
        rcptAttempts.set(to, n);
        if (to.startsWith('greylist') && n === 1) return smtpError(451, '4.7.1 Greylisted, try again later');
        if (to.startsWith('nobody')) return smtpError(550, '5.1.1 The email account that you tried to reach does not exist');
        return null;
      },
    });
    p = await startPlatform({ sinkPort: sink.port });
    dns = (await addDomain(p, 'example.com')).dns_records;
    await p.startNode();
  });

  after(async () => {
    await p?.stop();
    await sink?.close();
  });

  test('a message arrives intact, DKIM-signed, with a VERP envelope, and its trace tells the story', async () => {
    const res = await p.api('POST', '/v1/messages', {
      from: { email: 'alerts@example.com', name: 'Ålerts Team' },
      to: ['ada@dest.test', 'Grace <grace@dest.test>'],
      cc: 'linus@dest.test',
      subject: 'Your report is ready ✓',
      text: 'Hello Ada,\nyour report is attached.\n.\nA line with a dot above.',
      html: '<p>Hello <b>Ada</b></p>',
      headers: { 'X-Campaign': 'weekly-42' },
      attachments: [{ filename: 'report.txt', content_type: 'text/plain', content: Buffer.from('numbers: 1 2 3').toString('base64') }],
      tags: { kind: 'report' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.recipients, 3);

    const view = await waitFor(async () => {
      const m = await messageStatus(p, res.body.id);
      return m.status === 'delivered' && m;
    }, 10_000, 'delivery');
    assert.deepEqual(view.recipients.map((r: any) => r.state), ['delivered', 'delivered', 'delivered']);
    const types = view.events.map((e: any) => e.type);
    assert.equal(types[0], 'accepted');
    assert.ok(types.includes('leased') && types.includes('delivered'));
    const delivered = view.events.find((e: any) => e.type === 'delivered');
    assert.equal(delivered.data.ip, '127.0.0.1');
    assert.match(delivered.data.reply, /^250 /);

    const mails = sink.mails.filter((m) => m.raw.includes(res.body.id));
    assert.equal(mails.length, 3, 'one SMTP transaction per recipient');
    const mail = mails[0];
    // The return path defaults to bounces.<domain> (its MX points at the platform's intake).
    assert.match(mail.from, /^bounces\+job_[a-z0-9]+@bounces\.example\.com$/);
    const parsed = await simpleParser(mail.raw);
    assert.equal(parsed.subject, 'Your report is ready ✓');
    assert.equal(parsed.from?.value[0].name, 'Ålerts Team');
    assert.equal(parsed.text?.trim(), 'Hello Ada,\nyour report is attached.\n.\nA line with a dot above.');
    assert.equal(parsed.html, '<p>Hello <b>Ada</b></p>');
    assert.equal(parsed.headers.get('x-campaign'), 'weekly-42');
    assert.equal(parsed.attachments[0].content.toString(), 'numbers: 1 2 3');
    assert.ok(!parsed.headers.has('bcc'));

    const dkimRecord = dns.find((r) => r.purpose === 'dkim')!;
    const result = await authenticate(mail.raw, {
      ip: '127.0.0.1',
      helo: 'mta.test',
      sender: mail.from,
      trustReceived: false,
      resolver: async (name: string, type: string) => {
        if (type === 'TXT' && name === dkimRecord.name) return [[dkimRecord.value]];
        const err = new Error('not found') as Error & { code: string };
        err.code = 'ENOTFOUND';
        throw err;
      },
    });
    const sig = result.dkim.results[0];
    assert.equal(sig.status.result, 'pass', JSON.stringify(sig.status));
    assert.equal(sig.signingDomain, 'example.com');
  });

  test('a 4xx is retried with backoff and then delivered; the trace keeps the deferral', async () => {
    const res = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'greylist@dest.test', subject: 'retry', text: 'x' });
    assert.equal(res.status, 202);
    const view = await waitFor(async () => {
      const m = await messageStatus(p, res.body.id);
      return m.status === 'delivered' && m;
    }, 10_000, 'delivery after deferral');
    const deferred = view.events.find((e: any) => e.type === 'deferred');
    assert.equal(deferred.data.code, 451);
    assert.equal(deferred.data.enhanced, '4.7.1');
    assert.ok(deferred.data.next_attempt_at);
    assert.equal(view.recipients[0].attempts, 2);
  });

  test('a 5xx bounces without retry', async () => {
    const res = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'nobody@dest.test', subject: 'bounce', text: 'x' });
    const view = await waitFor(async () => {
      const m = await messageStatus(p, res.body.id);
      return m.status === 'bounced' && m;
    }, 10_000, 'bounce');
    const bounced = view.events.find((e: any) => e.type === 'bounced');
    assert.equal(bounced.data.code, 550);
    assert.equal(bounced.data.class, 'unknown_user');
    assert.equal(bounced.data.suppress_recipient, true);
    assert.equal(view.recipients[0].attempts, 1);
  });

  test('Idempotency-Key: a replay returns the first response and makes no second message', async () => {
    const body = { from: 'a@example.com', to: 'idem@dest.test', subject: 'once', text: 'x' };
    const first = await p.api('POST', '/v1/messages', body, { 'idempotency-key': 'order-1001' });
    const second = await p.api('POST', '/v1/messages', body, { 'idempotency-key': 'order-1001' });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    const conflict = await p.api('POST', '/v1/messages', { ...body, subject: 'different' }, { 'idempotency-key': 'order-1001' });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, 'idempotency_conflict');
    assert.equal(conflict.body.error.field, 'Idempotency-Key');
  });

  test('Idempotency-Key under 20 concurrent requests: one message', async () => {
    const body = { from: 'a@example.com', to: 'race@dest.test', subject: 'race', text: 'x' };
    const results = await Promise.all(Array.from({ length: 20 }, () => p.api('POST', '/v1/messages', body, { 'idempotency-key': 'race-7' })));
    assert.ok(results.every((r) => r.status === 202), JSON.stringify(results.map((r) => r.status)));
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1);
    const list = await p.api('GET', '/v1/messages?limit=500');
    assert.equal(list.body.data.filter((m: any) => m.subject === 'race').length, 1);
  });

  test('batch: up to 1,000 in one request, all committed', async () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({ from: 'a@example.com', to: `batch${i}@dest.test`, subject: `batch ${i}`, text: 'x', lane: 'lifecycle' }));
    const res = await p.api('POST', '/v1/messages/batch', { messages });
    assert.equal(res.status, 202);
    assert.equal(res.body.data.length, 50);
    await waitFor(async () => {
      const list = await p.api('GET', '/v1/messages?lane=lifecycle&status=delivered&limit=500');
      return list.body.data.length >= 50;
    }, 15_000, 'batch delivery');
  });

  test('tenants see only their own messages and domains', async () => {
    const created = await p.api('POST', '/v1/tenants', { name: 'other' });
    assert.equal(created.status, 201);
    const otherKey = created.body.api_key;
    const mine = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'x@dest.test', subject: 'mine', text: 'x' });
    const asOther = (method: string, path: string, body?: unknown) => p.api(method, path, body, { authorization: `Bearer ${otherKey}` });
    assert.equal((await asOther('GET', `/v1/messages/${mine.body.id}`)).status, 404);
    assert.equal((await asOther('GET', '/v1/messages')).body.data.length, 0);
    assert.equal((await asOther('GET', '/v1/domains')).body.data.length, 0);
    const refused = await asOther('POST', '/v1/messages', { from: 'a@example.com', to: 'x@dest.test', subject: 's', text: 'x' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.field, 'from');
    assert.equal((await asOther('POST', '/v1/tenants', { name: 'nope' })).status, 403);
  });

  test('reputation: the operator sees the platform, another tenant its own domains, pauses and pools only', async () => {
    const created = await p.api('POST', '/v1/tenants', { name: 'rep' });
    const other = created.body.id as string;
    const asOther = (method: string, path: string, body?: unknown) => p.api(method, path, body, { authorization: `Bearer ${created.body.api_key}` });
    assert.equal((await asOther('POST', '/v1/domains', { domain: 'other-rep.test' })).status, 201);
    const at = Date.now();
    const event = (scope: string, key: string, data: Record<string, unknown> | null = null) => ({ scope, key, type: 'breaker', fromState: 'closed', toState: 'open', reason: `test ${scope} ${key}`, at, data });
    await p.edge.store.appendPolicyEvents([
      event('domain', 'default|example.com'),
      event('domain', `${other}|other-rep.test`),
      // Another tenant's breaker of the same name: not this tenant's, though it holds the name too.
      event('domain', 'default|other-rep.test'),
      event('outreach', 'default'),
      event('outreach', `${other}|other-rep.test`),
      event('provider_pool', 'gmail|default', { provider: 'gmail', pool: 'default' }),
      event('provider_ip', 'gmail|127.0.0.1', { provider: 'gmail', ip: '127.0.0.1' }),
    ]);
    const keys = (body: { events: Array<{ scope: string; key: string; at: string }> }) =>
      body.events.filter((e) => Date.parse(e.at) === at).map((e) => `${e.scope}:${e.key}`).sort();
    const operator = await p.api('GET', '/v1/reputation');
    assert.equal(operator.status, 200);
    assert.deepEqual(keys(operator.body), ['domain:default|example.com', `domain:${other}|other-rep.test`, 'domain:default|other-rep.test', `outreach:${other}|other-rep.test`, 'outreach:default', 'provider_ip:gmail|127.0.0.1', 'provider_pool:gmail|default'].sort());
    const tenant = await asOther('GET', '/v1/reputation');
    assert.equal(tenant.status, 200);
    assert.deepEqual(keys(tenant.body), [`domain:${other}|other-rep.test`, `outreach:${other}|other-rep.test`, 'provider_pool:gmail|default'].sort(), 'its own domain and pause, and the shared pool');
    assert.deepEqual(tenant.body.suspended_ips, []);
  });
});
