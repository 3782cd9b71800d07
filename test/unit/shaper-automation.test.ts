/**
 * The provider records' automation rules act on live replies in the Shaper's observe path: each
 * action for its rule's duration, each a policy event. In-memory counters, a fixed clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Shaper } from '../../edge/hub/shaping.ts';
import { MemoryCounters } from '../../edge/adapters/memory-counters.ts';
import { aimdConfig } from '../../shared/policy/aimd.ts';
import { classifierFor, classifyReply } from '../../shared/policy/classifier.ts';
import { loadShapingPolicy, type ShapingPolicy } from '../../shared/policy/providers.ts';
import { parseSmtpReply } from '../../shared/smtp-reply.ts';
import type { ClaimedJob } from '../../edge/ports/store.ts';

const H = 3600_000;
const yahooJob = { provider: 'yahoo', domain: 'yahoo.com', pool: 'default', senderDomain: 'acme.com', tenantId: 'acme' };
const gmailJob = { ...yahooJob, provider: 'gmail', domain: 'gmail.com' };

function observe(shaper: Shaper, job: typeof yahooJob, raw: string, ip: string, now: number, policy?: ShapingPolicy) {
  const reply = parseSmtpReply(raw)!;
  const c = classifyReply(reply, { provider: job.provider }, policy ? classifierFor(policy) : undefined);
  return shaper.observe(job, reply.code >= 500 ? 'bounced' : 'deferred', c, ip, now, reply);
}

function claimed(i: number, over: Partial<ClaimedJob> = {}): ClaimedJob {
  return {
    id: `job_${i}`, messageId: `msg_${i}`, tenantId: 'acme', recipient: `r${i}@gmail.com`, recipientKind: 'to', domain: 'gmail.com',
    senderDomain: 'acme.com', provider: 'gmail', pool: 'default', lane: 'transactional', region: null, dedupKey: `d${i}`, state: 'leased',
    attempts: 0, nextAttemptAt: 0, leaseId: null, leaseOwner: null, leaseExpiresAt: null, lastReply: null, lastClass: null,
    createdAt: 0, updatedAt: 0, finishedAt: null, returnPathDomain: null, dkimDomain: null, dkimKeyId: null, constraints: null, ...over,
  } as ClaimedJob;
}

test("Yahoo [TSS04] suspends that IP for yahoo.TSS04's 2h (not a fixed 90 minutes), and only for Yahoo", async () => {
  const now = 10 * H;
  const shaper = new Shaper({ counters: new MemoryCounters(() => now) });
  const events = observe(shaper, yahooJob, '421 4.7.0 [TSS04] Messages from 192.0.2.7 temporarily deferred due to unexpected volume or user complaints', '192.0.2.7', now);
  const suspend = events.find((e) => e.type === 'suspend');
  assert.ok(suspend, JSON.stringify(events));
  assert.equal(suspend.to, new Date(now + 2 * H).toISOString());
  assert.equal(suspend.data.rule, 'yahoo.TSS04');
  assert.equal(events.filter((e) => e.type === 'suspend').length, 1, 'one suspension, the rule\'s');
  const snap = shaper.snapshot(now);
  assert.deepEqual(snap.suspended_ips.map((s) => [s.provider, s.ip, s.until]), [['yahoo', '192.0.2.7', new Date(now + 2 * H).toISOString()]]);
  // Still suspended after 90 minutes, lifted after two hours.
  assert.equal(shaper.snapshot(now + 100 * 60_000).suspended_ips.length, 1);
  assert.equal(shaper.snapshot(now + 2 * H + 1).suspended_ips.length, 0);
});

test("Microsoft 5.7.708 suspends the IP for 24h and raises the rule's alert as an automation event", () => {
  const now = 20 * H;
  const shaper = new Shaper({ counters: new MemoryCounters(() => now) });
  const events = observe(shaper, { ...yahooJob, provider: 'microsoft', domain: 'outlook.com' }, '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.', '192.0.2.9', now);
  assert.equal(events.find((e) => e.type === 'suspend')?.to, new Date(now + 24 * H).toISOString());
  const alert = events.find((e) => e.type === 'automation' && e.data.action === 'alert');
  assert.ok(alert, JSON.stringify(events));
  assert.equal(alert.data.rule, 'microsoft.5.7.708');
  assert.match(String(alert.data.message), /delisting/);
});

test('a set_shaping rule lowers that IP\'s rate for the provider for its duration, then the table rate is back', async () => {
  let now = 30 * H;
  const policy = loadShapingPolicy({
    providers: { gmail: { automation: [{ id: 'ops.gmail-slow', match: { code: 451, text: 'SLOWDOWN' }, trigger: 'immediate', actions: [{ kind: 'set_shaping', duration: '10m', ratePerIp: '6/min' }], source: 'runbook' }] } },
  });
  const shaper = new Shaper({ counters: new MemoryCounters(() => now), policy });
  const events = observe(shaper, gmailJob, '451 4.3.0 SLOWDOWN please', '192.0.2.1', now, policy);
  const set = events.find((e) => e.type === 'automation');
  assert.ok(set, JSON.stringify(events));
  assert.equal(set.data.action, 'set_shaping');
  assert.equal(set.to, new Date(now + 10 * 60_000).toISOString());
  const rate = shaper.snapshot(now).rates.find((r) => 'ip' in r && r.ip === '192.0.2.1');
  assert.equal(rate?.rate_per_min, 6);

  // 6/min is one token at a time: one of five jobs leaves from that IP, the rest are held by its rate.
  const ips = new Map([['default', ['192.0.2.1']]]);
  now += 60_000;
  const first = await shaper.admit([1, 2, 3, 4, 5].map((i) => claimed(i)), ips, now);
  assert.equal(first.granted.length, 1, JSON.stringify(first.refused.map((r) => r.reason)));
  assert.ok(first.refused.every((r) => r.limit === 'provider_ip:gmail:default'));
  // Another IP of the pool is not affected: its burst at Gmail's 120/min is two at once.
  const other = await shaper.admit([6, 7, 8].map((i) => claimed(i)), new Map([['default', ['192.0.2.2']]]), now);
  assert.equal(other.granted.length, 2);

  // Past the rule's 10 minutes the table rate is back.
  now += 10 * 60_000;
  assert.equal(shaper.snapshot(now).rates.some((r) => 'ip' in r), false);
  const after = await shaper.admit([9, 10, 11].map((i) => claimed(i)), ips, now);
  assert.equal(after.granted.length, 2);
});

test('a threshold trigger ("3/hr") fires on the third match within the hour, not before', () => {
  const now = 40 * H;
  const policy = loadShapingPolicy({
    providers: { gmail: { automation: [{ id: 'ops.gmail-thrice', match: { text: 'THRICE' }, trigger: '3/hr', actions: [{ kind: 'suspend_ip', duration: '30m' }], source: 'runbook' }] } },
  });
  const shaper = new Shaper({ counters: new MemoryCounters(() => now), policy });
  const raw = '451 4.3.0 THRICE';
  assert.ok(!observe(shaper, gmailJob, raw, '192.0.2.1', now, policy).some((e) => e.type === 'suspend'));
  assert.ok(!observe(shaper, gmailJob, raw, '192.0.2.1', now + 60_000, policy).some((e) => e.type === 'suspend'));
  const third = observe(shaper, gmailJob, raw, '192.0.2.1', now + 120_000, policy).find((e) => e.type === 'suspend');
  assert.equal(third?.to, new Date(now + 120_000 + 30 * 60_000).toISOString());
});

test('a pause_domain rule holds the sender domain for the rule\'s duration', async () => {
  const now = 50 * H;
  const shaper = new Shaper({ counters: new MemoryCounters(() => now) });
  const events = observe(shaper, gmailJob, '550 5.7.26 Unauthenticated email from acme.com is not accepted due to domain\'s DMARC policy.', '192.0.2.1', now);
  const pause = events.find((e) => e.type === 'automation' && e.data.action === 'pause_domain');
  assert.ok(pause, JSON.stringify(events));
  assert.equal(pause.to, new Date(now + 4 * H).toISOString());
  const held = await shaper.admit([claimed(1)], new Map([['default', ['192.0.2.1']]]), now + 3 * H);
  assert.equal(held.granted.length, 0);
  assert.match(held.refused[0].limit, /^breaker:domain:acme\|acme.com$/);
});

test('set_shaping in force is restored from its stored automation event after a restart', () => {
  const now = 60 * H;
  const shaper = new Shaper({ counters: new MemoryCounters(() => now) });
  const events = observe(shaper, gmailJob, '421 4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail. rate limited.', '192.0.2.1', now);
  const stored = events.map((e) => ({ scope: e.scope, key: e.key, type: e.type, toState: e.to, at: e.at, data: e.data })).reverse();
  const fresh = new Shaper({ counters: new MemoryCounters(() => now) });
  fresh.restore(stored, now + 60_000);
  const rate = fresh.snapshot(now + 60_000).rates.find((r) => 'ip' in r && r.ip === '192.0.2.1');
  assert.equal(rate?.rate_per_min, 20, JSON.stringify(fresh.snapshot(now + 60_000).rates));
});

// ---- healthy receivers accelerate: the table rate is where the adaptive rate starts


const fastAimd = aimdConfig({ floor: '1/min', ceiling: '1000000/min', start: '60/min', decreaseFactor: 0.5, increase: '30/min', acceptsPerIncrease: 5, increaseInterval: '1m', decreaseHoldoff: '1m' });
const corpJob = { provider: 'corpmail', domain: 'corp.example', pool: 'default', senderDomain: 'acme.com', tenantId: 'acme' };

function accept(shaper: Shaper, from: number, minutes: number) {
  let now = from;
  for (let m = 0; m < minutes; m++) {
    now += 60_000;
    for (let i = 0; i < 5; i++) shaper.observe(corpJob, 'delivered', null, '192.0.2.1', now);
  }
  return now;
}
const poolRate = (shaper: Shaper, now: number) => shaper.snapshot(now).rates.find((r) => r.destination === 'corpmail' && 'pool' in r && r.pool === 'default')?.rate_per_min;

test('sustained clean acceptance raises the pool rate past the table rate, additively, up to the provider ceiling; a throttle falls back', () => {
  const policy = loadShapingPolicy({ providers: { corpmail: { name: 'Corp', domains: ['corp.example'], shaping: { ratePerPool: '60/min', ceiling: '150/min' } } } });
  const shaper = new Shaper({ counters: new MemoryCounters(), policy, aimd: fastAimd });
  let now = 70 * H;
  assert.equal(shaper.rateFor('corpmail', 'default', 'acme', 'acme.com', now).ratePerSec * 60, 60, 'starts at the table rate');
  now = accept(shaper, now, 1);
  assert.equal(poolRate(shaper, now), 90, 'one increase of 30/min');
  assert.equal(shaper.rateFor('corpmail', 'default', 'acme', 'acme.com', now).ratePerSec * 60, 90, 'admission uses the raised rate');
  now = accept(shaper, now, 10);
  assert.equal(poolRate(shaper, now), 150, 'held at the ceiling');
  const c = classifyReply(parseSmtpReply('421 4.7.0 Try again later, too many messages')!, { provider: 'corpmail' });
  assert.equal(c.signal, 'throttle', c.rule);
  shaper.observe(corpJob, 'deferred', c, '192.0.2.1', now + 1000, parseSmtpReply('421 4.7.0 Try again later, too many messages'));
  assert.equal(poolRate(shaper, now + 1000), 75, 'the first throttle halves it');
});

test('without a ceiling in the record, a provider climbs to four times its table rate', () => {
  const policy = loadShapingPolicy({ providers: { corpmail: { name: 'Corp', domains: ['corp.example'], shaping: { ratePerPool: '60/min' } } } });
  const shaper = new Shaper({ counters: new MemoryCounters(), policy, aimd: fastAimd });
  const now = accept(shaper, 80 * H, 20);
  assert.equal(poolRate(shaper, now), 240);
});
