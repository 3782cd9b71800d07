/** The Shaper's decisions, with in-memory counters and a fixed clock: no I/O. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Shaper } from '../../edge/hub/shaping.ts';
import { MemoryCounters } from '../../edge/adapters/memory-counters.ts';
import { classifyReply } from '../../shared/policy/classifier.ts';
import { parseSmtpReply } from '../../shared/smtp-reply.ts';
import { aimdConfig } from '../../shared/policy/aimd.ts';
import { breakerConfig, DEFAULT_BREAKER } from '../../shared/policy/breaker.ts';

const job = { provider: 'microsoft', domain: 'outlook.com', pool: 'default', senderDomain: 'example.com' };
const reply = (raw: string) => classifyReply(parseSmtpReply(raw), { provider: 'microsoft' });

test("Microsoft's 451 4.7.650 (rate limited on IP reputation) cuts the adaptive rate and counts as a block", () => {
  const now = 1_000_000;
  const shaper = new Shaper({
    counters: new MemoryCounters(() => now),
    aimd: aimdConfig({ floor: '6/min', ceiling: '600/min', start: '600/min', decreaseFactor: 0.5, increase: '6/min', acceptsPerIncrease: 20, increaseInterval: '1m', decreaseHoldoff: '1s' }),
    breaker: breakerConfig({ ...DEFAULT_BREAKER, minVolume: 1, slowStartOn: { complaintRate: 1, bounceRate: 1, blocks: 1 } }),
  });
  const before = shaper.rateFor('microsoft', 'default', 'example.com', now).ratePerSec;
  const c = reply('451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.');
  assert.equal(c.class, 'ip_reputation');
  const events = shaper.observe(job, 'deferred', c, '192.0.2.1', now);
  const cut = events.find((e) => e.type === 'rate');
  assert.ok(cut, JSON.stringify(events));
  assert.match(cut.reason, /microsoft\.451-4\.7\.650/);
  assert.ok(shaper.rateFor('microsoft', 'default', 'example.com', now).ratePerSec <= before / 2 + 1e-9);
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
