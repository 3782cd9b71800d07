/** The Shaper's decisions, with in-memory counters and a fixed clock: no I/O. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Shaper } from '../../edge/hub/shaping.ts';
import { MemoryCounters } from '../../edge/adapters/memory-counters.ts';
import { classifyReply } from '../../shared/policy/classifier.ts';
import { parseSmtpReply } from '../../shared/smtp-reply.ts';
import { aimdConfig } from '../../shared/policy/aimd.ts';
import { breakerConfig, DEFAULT_BREAKER } from '../../shared/policy/breaker.ts';
import { DEFAULT_OUTREACH_GUARD } from '../../shared/policy/constraints.ts';
import type { ClaimedJob } from '../../edge/ports/store.ts';

const job = { provider: 'microsoft', domain: 'outlook.com', pool: 'default', senderDomain: 'example.com', tenantId: 'acme' };
const reply = (raw: string) => classifyReply(parseSmtpReply(raw), { provider: 'microsoft' });

test("Microsoft's 451 4.7.650 (rate limited on IP reputation) cuts the adaptive rate and counts as a block", () => {
  const now = 1_000_000;
  const shaper = new Shaper({
    counters: new MemoryCounters(() => now),
    aimd: aimdConfig({ floor: '6/min', ceiling: '600/min', start: '600/min', decreaseFactor: 0.5, increase: '6/min', acceptsPerIncrease: 20, increaseInterval: '1m', decreaseHoldoff: '1s' }),
    breaker: breakerConfig({ ...DEFAULT_BREAKER, minVolume: 1, slowStartOn: { complaintRate: 1, bounceRate: 1, blocks: 1 } }),
  });
  const before = shaper.rateFor('microsoft', 'default', 'acme', 'example.com', now).ratePerSec;
  const c = reply('451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.');
  assert.equal(c.class, 'ip_reputation');
  const events = shaper.observe(job, 'deferred', c, '192.0.2.1', now);
  const cut = events.find((e) => e.type === 'rate');
  assert.ok(cut, JSON.stringify(events));
  assert.match(cut.reason, /microsoft\.451-4\.7\.650/);
  assert.ok(shaper.rateFor('microsoft', 'default', 'acme', 'example.com', now).ratePerSec <= before / 2 + 1e-9);
  assert.ok(events.some((e) => e.type === 'breaker' && e.key === 'default' && e.to === 'slow_start'), 'the block reached the pool breaker');
});

test('a plain throttle cuts the rate but is not a block', () => {
  const now = 2_000_000;
  const shaper = new Shaper({ counters: new MemoryCounters(() => now), breaker: breakerConfig({ ...DEFAULT_BREAKER, minVolume: 1, slowStartOn: { complaintRate: 1, bounceRate: 1, blocks: 1 } }) });
  const c = classifyReply(parseSmtpReply('421 4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail. rate limited.'), { provider: 'gmail' });
  const events = shaper.observe({ ...job, provider: 'gmail', domain: 'gmail.com' }, 'deferred', c, '192.0.2.1', now);
  assert.ok(events.some((e) => e.type === 'rate'));
  assert.ok(!events.some((e) => e.type === 'breaker'));
});

function claimed(i: number, over: Partial<ClaimedJob> = {}): ClaimedJob {
  return {
    id: `job_${i}`, messageId: `msg_${i}`, tenantId: 'acme', recipient: `r${i}@other.test`, recipientKind: 'to', domain: 'other.test',
    senderDomain: 'acme.com', provider: 'other', pool: 'default', lane: 'outreach', region: null, dedupKey: `d${i}`, state: 'leased',
    attempts: 0, nextAttemptAt: 0, leaseId: null, leaseOwner: null, leaseExpiresAt: null, lastReply: null, lastClass: null,
    createdAt: 0, updatedAt: 0, finishedAt: null, returnPathDomain: null, dkimDomain: null, dkimKeyId: null, constraints: null, ...over,
  } as ClaimedJob;
}

test("a lane's tenant and sender-domain budgets come from policy; outreach leaves in batches of its batch size", async () => {
  let now = 5_000_000;
  const shaper = new Shaper({
    counters: new MemoryCounters(() => now),
    lanePolicy: async ({ lane }) =>
      lane === 'outreach'
        ? { tenantRate: '60/min', senderDomainRate: null, outreach: { ...DEFAULT_OUTREACH_GUARD, batchSize: 3 } }
        : { tenantRate: null, senderDomainRate: '120/min', outreach: null },
  });
  const ips = new Map([['default', ['192.0.2.1']]]);
  const first = await shaper.admit(Array.from({ length: 10 }, (_, i) => claimed(i)), ips, now);
  assert.equal(first.granted.length, 3, 'one batch');
  assert.equal(first.refused.length, 7);
  assert.ok(first.refused.every((r) => r.limit === 'tenant:acme:outreach'), JSON.stringify(first.refused.map((r) => r.limit)));
  assert.match(first.refused[0].reason, /60\/min, batches of 3/);
  // Spaced at the policy's pace (1/s), not all due at once.
  assert.ok(first.refused[6].retryAt - first.refused[0].retryAt >= 5_900);

  now += 1_000;
  const next = await shaper.admit(first.refused.map((r) => r.job), ips, now);
  assert.equal(next.granted.length, 1, 'then one per second');

  // Lifecycle: no tenant cap, but the sender domain's (2/s, burst 2).
  const lifecycle = await shaper.admit(Array.from({ length: 5 }, (_, i) => claimed(100 + i, { lane: 'lifecycle' })), ips, now);
  assert.equal(lifecycle.granted.length, 2);
  assert.ok(lifecycle.refused.every((r) => r.limit === 'sender_domain:acme.com:lifecycle'));
});

test("one tenant's shaping failure or zero rate holds its own jobs only; the others' go, every hold ends in finite time", async () => {
  const now = 6_000_000;
  const shaper = new Shaper({
    counters: new MemoryCounters(() => now),
    // A policy stored before rates had to be positive, and one whose lookup fails.
    lanePolicy: async ({ tenantId }) => {
      if (tenantId === 'boom') throw new Error('policy store unreachable');
      return tenantId === 'zero' ? { tenantRate: '0/min', senderDomainRate: null, outreach: null } : { tenantRate: null, senderDomainRate: null, outreach: null };
    },
  });
  const ips = new Map([['default', ['192.0.2.1']]]);
  const jobs = [
    ...Array.from({ length: 3 }, (_, i) => claimed(300 + i, { tenantId: 'zero', senderDomain: 'zero.test', lane: 'lifecycle' })),
    ...Array.from({ length: 2 }, (_, i) => claimed(310 + i, { tenantId: 'boom', senderDomain: 'boom.test', lane: 'lifecycle' })),
    ...Array.from({ length: 2 }, (_, i) => claimed(320 + i, { tenantId: 'acme', lane: 'lifecycle' })),
  ];
  const out = await shaper.admit(jobs, ips, now);
  assert.deepEqual(out.granted.filter((g) => g.job.tenantId === 'acme').length, 2, 'the healthy tenant is leased');
  assert.ok(out.refused.some((r) => r.job.tenantId === 'boom' && r.limit === 'shaping_error'), JSON.stringify(out.refused));
  assert.equal(out.granted.filter((g) => g.job.tenantId === 'boom').length, 0);
  assert.equal(out.granted.length + out.refused.length, jobs.length, 'every claimed job is decided');
  for (const r of out.refused) assert.ok(Number.isFinite(r.retryAt) && r.retryAt > now, `${r.job.id} ${r.limit} retryAt ${r.retryAt}`);
  // The hold is recordable: its trace event has a valid time.
  for (const r of out.refused) assert.doesNotThrow(() => new Date(r.retryAt).toISOString());
});

test('after a restart the stored policy events bring back breakers, adaptive rates and IP suspensions', async () => {
  const now = 9_000_000;
  const shaper = new Shaper({ counters: new MemoryCounters(() => now) });
  // Newest first, as the store lists them; an older event for a key is ignored.
  shaper.restore(
    [
      { scope: 'pool', key: 'bulk', type: 'breaker', toState: 'open', at: now - 60_000, data: { open_until: now + 600_000 } },
      { scope: 'domain', key: 'acme|acme.com', type: 'breaker', toState: 'slow_start', at: now - 5_000, data: { rate_per_min: 20 } },
      // Stored before domain breakers were per tenant: whose it was is unknown, so it is not resumed.
      { scope: 'domain', key: 'legacy.test', type: 'breaker', toState: 'open', at: now - 5_000, data: { open_until: now + 600_000 } },
      { scope: 'pool', key: 'default', type: 'breaker', toState: 'closed', at: now - 1_000, data: {} },
      { scope: 'pool', key: 'default', type: 'breaker', toState: 'open', at: now - 90_000, data: { open_until: now + 600_000 } },
      { scope: 'provider_pool', key: 'gmail|default', type: 'rate', toState: '37.50/min', at: now - 30_000, data: {} },
      { scope: 'provider_ip', key: 'yahoo|192.0.2.7', type: 'suspend', toState: new Date(now + 3_600_000).toISOString(), at: now - 10_000, data: {} },
    ],
    now,
  );
  const snap = shaper.snapshot(now);
  assert.equal(snap.breakers.find((b) => b.key === 'bulk')?.state, 'open');
  assert.deepEqual(snap.breakers.filter((b) => b.scope === 'domain').map((b) => [b.key, b.tenant, b.domain, b.state]), [['acme|acme.com', 'acme', 'acme.com', 'slow_start']]);
  assert.ok(!snap.breakers.some((b) => b.key === 'default' && b.state !== 'closed'), 'the newest event for a key wins');
  assert.equal(shaper.rateFor('gmail', 'default', 'acme', 'example.com', now).ratePerSec * 60, 37.5);
  assert.equal(shaper.rateFor('other:x.test', 'pool', 'acme', 'acme.com', now).ratePerSec * 60, 20);
  // Another tenant's acme.com is not slowed by acme's breaker.
  assert.equal(shaper.rateFor('other:x.test', 'pool', 'rival', 'acme.com', now).ratePerSec, shaper.rateFor('other:x.test', 'pool', 'rival', 'rival.test', now).ratePerSec);
  assert.ok(shaper.rateFor('other:x.test', 'pool', 'rival', 'acme.com', now).ratePerSec * 60 > 20);
  assert.ok(snap.suspended_ips.some((s) => s.provider === 'yahoo' && s.ip === '192.0.2.7'));
  // The open pool holds its jobs until the stored pause ends.
  const held = await shaper.admit([claimed(1, { pool: 'bulk', lane: 'lifecycle' })], new Map([['bulk', ['192.0.2.1']]]), now);
  assert.equal(held.refused[0]?.limit, 'breaker:pool:bulk');
  assert.equal(held.refused[0]?.retryAt, now + 600_000);
});
