/**
 * Quota guards (SPEC §7): a burst 20× over the trailing hourly pattern is accepted but held
 * (202 `held`), never leased until approved, then delivered once each; a held domain batch that is
 * rejected is never delivered; daily caps per tenant and per sending domain answer 429 naming
 * the cap, its limit and when it resets in the tenant's time zone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, waitFor, addDomain } from '../helpers/platform.ts';
import { startSink } from '../mta-node/helpers.ts';
import { USAGE_BUCKET_MS, bucketOf } from '../../shared/policy/quota.ts';

const batch = (from: string, messages: number, recipients: number, tag: string) => ({
  messages: Array.from({ length: messages }, (_, m) => ({
    from,
    to: Array.from({ length: recipients }, (_, r) => `${tag}-${m}-${r}@dest.test`),
    subject: `${tag} ${m}`,
    text: 'hello',
  })),
});

test('a rogue batch is held, released by approval and delivered once; a rejected one never is; daily caps answer 429', async () => {
  const sink = await startSink();
  const p = await startPlatform({ sinkPort: sink.port });
  try {
    await addDomain(p, 'example.com');
    await addDomain(p, 'other.test');
    // The trailing week: 2 recipients an hour from example.com.
    const now = Date.now();
    const rows = [];
    for (let at = bucketOf(now - 7 * 24 * 3600_000); at < bucketOf(now - 3600_000); at += 4 * USAGE_BUCKET_MS) {
      rows.push({ tenantId: 'default', senderDomain: 'example.com', lane: 'transactional', bucket: at, recipients: 2 });
    }
    await p.edge.store.addQuotaUsage(rows);
    // The lifecycle lane is not guarded: its mail shows the hub goes on leasing while a hold waits.
    const policy = { defaults: { quota: { rogue: { multiple: 20, minVolume: 20 } } }, lanes: { lifecycle: { quota: { rogue: null } } } };
    assert.equal((await p.api('PUT', '/v1/policies', policy)).status, 200);
    await p.startNode();

    const normal = await p.api('POST', '/v1/messages/batch', batch('a@example.com', 5, 1, 'normal'));
    assert.deepEqual(normal.body.data.map((m: any) => m.status), Array(5).fill('queued'));
    await waitFor(() => sink.mails.length === 5, 15_000, 'the normal sends');

    // other.test has no pattern: 30 recipients in an hour are over its minimum volume of 20 (the
    // tenant's 35 are still under 20 × its p95 of 2).
    const domainBurst = await p.api('POST', '/v1/messages/batch', batch('a@other.test', 3, 10, 'rogue'));
    assert.deepEqual(new Set(domainBurst.body.data.map((m: any) => m.status)), new Set(['held']));
    const [domainHold] = (await p.api('GET', '/v1/holds?status=pending')).body.data;
    assert.equal(domainHold.scope, 'domain');
    assert.equal(domainHold.key, 'other.test');
    assert.equal(domainHold.held_jobs, 30);
    const view = (await p.api('GET', `/v1/messages/${domainBurst.body.data[0].id}`)).body;
    assert.equal(view.status, 'held');
    assert.ok(view.events.some((e: any) => e.type === 'held' && e.data.hold_id === domainHold.id));
    // The hub leases only queued jobs: a send after the burst is delivered while the burst waits.
    const other = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'other@dest.test', subject: 'other', text: 'x', lane: 'lifecycle' });
    assert.equal(other.body.status, 'queued');
    await waitFor(() => sink.mails.length === 6, 15_000, 'the send outside the hold');
    const reject = await p.api('POST', `/v1/holds/${domainHold.id}/reject`, { reason: 'not ours' });
    assert.equal(reject.status, 200, JSON.stringify(reject.body));
    assert.equal(reject.body.jobs, 30);
    assert.equal((await p.api('POST', `/v1/holds/${domainHold.id}/approve`, {})).status, 409, 'decided once');
    const rejected = (await p.api('GET', `/v1/messages/${domainBurst.body.data[0].id}`)).body;
    assert.equal(rejected.status, 'rejected');
    assert.ok(rejected.events.some((e: any) => e.type === 'hold_rejected' && e.data.reason === 'not ours'));

    // 50 more from example.com: the tenant's hour (86) is over 20 × its p95 of 2.
    const burst = await p.api('POST', '/v1/messages/batch', batch('a@example.com', 5, 10, 'burst'));
    assert.equal(burst.status, 202, JSON.stringify(burst.body));
    assert.deepEqual(new Set(burst.body.data.map((m: any) => m.status)), new Set(['held']));
    const joiner = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'late@dest.test', subject: 'late', text: 'x' });
    assert.equal(joiner.body.status, 'held', 'a send during the open hold joins it');
    const holds = await p.api('GET', '/v1/holds?status=pending');
    assert.equal(holds.body.data.length, 1, JSON.stringify(holds.body));
    const hold = holds.body.data[0];
    assert.equal(hold.scope, 'tenant');
    assert.equal(hold.trailing_p95_per_hour, 2);
    assert.equal(hold.threshold, 40);
    assert.equal(hold.held_jobs, 51);

    const approve = await p.api('POST', `/v1/holds/${hold.id}/approve`, { reason: 'planned launch' });
    assert.equal(approve.status, 200, JSON.stringify(approve.body));
    assert.equal(approve.body.jobs, 51);
    await waitFor(() => sink.mails.length === 57, 60_000, 'the approved burst');
    const approved = (await p.api('GET', `/v1/messages/${burst.body.data[0].id}`)).body;
    assert.ok(approved.events.some((e: any) => e.type === 'hold_approved' && e.data.reason === 'planned launch'));
    // The approval covers the hour: more mail goes out, and nothing rejected ever does.
    const after = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 'after@dest.test', subject: 'after', text: 'x' });
    assert.equal(after.body.status, 'queued');
    await waitFor(() => sink.mails.some((m) => m.to.includes('after@dest.test')), 15_000, 'a send after the approval');
    const delivered = sink.mails.flatMap((m) => m.to);
    assert.equal(new Set(delivered).size, delivered.length, 'each recipient once');
    assert.equal(delivered.length, 58);
    assert.equal(delivered.filter((t) => t.startsWith('rogue')).length, 0, 'rejected mail is never delivered');

    const audit = (await p.api('GET', '/v1/audit')).body.data.map((e: any) => e.action);
    assert.ok(audit.includes('hold.approve') && audit.includes('hold.reject'), JSON.stringify(audit));

    // Daily caps, in the tenant's time zone: the lifecycle lane 4 a day, 2 per sending domain.
    const caps = { defaults: policy.defaults, lanes: { lifecycle: { quota: { dailyCap: 4, domainDailyCap: 2, timeZone: 'Asia/Kolkata', rogue: null } } } };
    assert.equal((await p.api('PUT', '/v1/policies', caps)).status, 200);
    const lifecycle = (from: string, to: string) => p.api('POST', '/v1/messages', { from, to, subject: 'l', text: 'x', lane: 'lifecycle' });
    // One lifecycle send went out above already.
    assert.equal((await lifecycle('a@example.com', 'l2@dest.test')).status, 202);
    const domainCap = await lifecycle('a@example.com', 'l3@dest.test');
    assert.equal(domainCap.status, 429, JSON.stringify(domainCap.body));
    assert.equal(domainCap.body.error.limit, 'lifecycle_domain_daily_cap');
    assert.equal(domainCap.body.error.cap, 2);
    // Midnight in Kolkata is 18:30 UTC.
    assert.match(domainCap.body.error.resets_at, /T18:30:00\.000Z$/);
    assert.ok(Number(domainCap.headers.get('retry-after')) > 0);
    assert.equal((await lifecycle('a@other.test', 'l4@dest.test')).status, 202);
    assert.equal((await lifecycle('a@other.test', 'l5@dest.test')).status, 202);
    const tenantCap = await lifecycle('a@other.test', 'l6@dest.test');
    assert.equal(tenantCap.status, 429);
    assert.equal(tenantCap.body.error.limit, 'lifecycle_daily_cap');
    assert.equal(tenantCap.body.error.queued_today, 4);
    assert.equal((await p.api('POST', '/v1/messages', { from: 'a@example.com', to: 't@dest.test', subject: 't', text: 'x' })).status, 202, 'caps are per lane');

    const bad = await p.api('PUT', '/v1/policies', { defaults: { quota: { timeZone: 'Mars/Olympus' } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'defaults.quota.timeZone');
  } finally {
    await p.stop();
    await sink.close();
  }
});
