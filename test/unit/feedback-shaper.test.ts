/** The Shaper's feedback signals: complaints count per sent in the pool and domain breakers, and the outreach pause follows the policy's thresholds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Shaper, outreachBreakerConfig } from '../../edge/hub/shaping.ts';
import { breakerConfig, DEFAULT_BREAKER } from '../../shared/policy/breaker.ts';
import type { Counters } from '../../edge/ports/counters.ts';

const counters: Counters = { take: async () => ({ granted: true, remaining: 1, retryAfterMs: 0 }) };
const cfg = breakerConfig({ ...DEFAULT_BREAKER, window: '10s', bucket: '1s', minVolume: 10, slowStartOn: { complaintRate: 0.05, bounceRate: 0.5, blocks: 100 }, openOn: { complaintRate: 0.5, bounceRate: 0.9, blocks: 200 }, coolDown: '5s' });
const job = (lane = 'lifecycle') => ({ provider: 'other', domain: 'other.test', pool: 'default', senderDomain: 'example.com', lane, tenantId: 't1' });

test('complaints over the rate above the minimum volume put the pool and the sender domain into slow start', () => {
  const s = new Shaper({ counters, breaker: cfg });
  const t = 1_000_000;
  for (let i = 0; i < 9; i++) assert.deepEqual(s.observe(job(), 'delivered', null, '127.0.0.1', t), []);
  assert.deepEqual(s.complaint(job(), t + 1), [], 'nine sends are under the minimum volume');
  const events = s.observe(job(), 'delivered', null, '127.0.0.1', t + 2);
  assert.deepEqual(events.map((e) => [e.scope, e.key, e.from, e.to]), [['pool', 'default', 'closed', 'slow_start'], ['domain', 't1|example.com', 'closed', 'slow_start']]);
  assert.match(events[0].reason, /complaint rate 10\.00% > 5\.00%/);
});

test('a late bounce counts as bounced, not as another send', () => {
  const s = new Shaper({ counters, breaker: cfg });
  for (let i = 0; i < 10; i++) s.observe(job(), 'delivered', null, null, 1000);
  const events = [...Array(6)].flatMap(() => s.bounce(job(), 1001));
  assert.equal(events.find((e) => e.scope === 'pool')?.to, 'slow_start');
  assert.match(events[0].reason, /bounce rate 60\.00% > 50\.00%/);
});

test('outreach pauses (open) on the policy rate, with its own key per tenant and sender domain; other lanes never touch it', () => {
  const s = new Shaper({ counters, breaker: breakerConfig({ ...DEFAULT_BREAKER, minVolume: 1000 }) });
  const rules = { tenant: { pauseOnComplaintRate: 0.1, pauseMinVolume: 5 }, domain: { pauseOnComplaintRate: 0.1, pauseMinVolume: 5 } };
  for (let i = 0; i < 5; i++) s.observe(job('outreach'), 'delivered', null, null, 1000);
  for (let i = 0; i < 5; i++) s.observe(job('lifecycle'), 'delivered', null, null, 1000);
  const events = s.complaint(job('outreach'), 1001, rules);
  const outreach = events.filter((e) => e.scope === 'outreach');
  assert.deepEqual(outreach.map((e) => [e.key, e.to]), [['t1', 'open'], ['t1|example.com', 'open']]);
  assert.match(outreach[1].reason, /^outreach paused: complaint rate 20\.00% > 10\.00% over 5 sends \(policy outreach\.pauseOnComplaintRate 0\.1, pauseMinVolume 5\)/);
  assert.equal(outreach[1].data.open_until, 1001 + 3600_000);
  assert.ok(!events.some((e) => e.scope === 'pool'), 'the pool breaker (min volume 1000) is not moved');
  const snap = s.snapshot(1002).breakers.find((b) => b.scope === 'outreach' && b.key === 't1|example.com');
  assert.equal(snap?.state, 'open');
  // After the cool-down the pause lifts under watch (slow start), and says so.
  const lifted = s.tick(1001 + 3600_000).filter((e) => e.scope === 'outreach');
  assert.equal(lifted[0].to, 'slow_start');
  assert.match(lifted[0].reason, /outreach pause lifted/);
});

test('outreachBreakerConfig takes its thresholds from the policy and only counts complaints', () => {
  const c = outreachBreakerConfig(cfg, { pauseOnComplaintRate: 0.002, pauseMinVolume: 300 });
  assert.equal(c.minVolume, 300);
  assert.equal(c.openOn.complaintRate, 0.002);
  assert.equal(c.openOn.bounceRate, 1);
  assert.equal(c.windowMs, cfg.windowMs);
});
