/**
 * The provider simulator's judgement (test/simulator/reputation.ts) with each provider's record
 * (behaviours.ts): ignoring throttles escalates to a hold and then an IP block; a sender that
 * obeys keeps its score; complaints block; scores recover slowly; the rates are per IP and per
 * sender domain. Time is the caller's: every step passes `now`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReputationBook, type ReputationPolicy, type Verdict } from '../simulator/reputation.ts';
import { BEHAVIOURS, compressed } from '../simulator/behaviours.ts';

const SEC = 1_000;
const MIN = 60 * SEC;

function book(name: keyof typeof BEHAVIOURS, over: Partial<ReputationPolicy> = {}) {
  return new ReputationBook({ ...BEHAVIOURS[name].escalation, perIp: { limit: 10, windowMs: MIN }, ...over });
}

/** `count` RCPTs from one IP, `gapMs` apart from `start`; the verdicts in order. */
function send(b: ReputationBook, ip: string, domain: string, start: number, count: number, gapMs: number): Verdict[] {
  return Array.from({ length: count }, (_, i) => b.decide(ip, domain, start + i * gapMs));
}

const kinds = (vs: Verdict[]) => vs.map((v) => (v.kind === 'throttle' ? `throttle:${v.scope}` : v.kind));

test('gmail: ignoring 421 4.7.28 escalates to a hold, then a 550 block for the IP', () => {
  const b = book('gmail');
  // 10 a minute allowed; a sender that keeps going at 10 a second.
  const vs = send(b, '192.0.2.1', 'shop.example', 0, 400, 100);
  const k = kinds(vs);
  const firstThrottle = k.indexOf('throttle:ip');
  const firstHold = k.indexOf('throttle:hold');
  const firstBlock = k.indexOf('block');
  assert.equal(k.slice(0, 10).every((x) => x === 'accept'), true, 'the first ten fit the rate');
  assert.equal(firstThrottle, 10);
  // escalateAfter (20) throttle replies turn into a hold, and the hold, ignored, into a block.
  assert.equal(firstHold, firstThrottle + BEHAVIOURS.gmail.escalation.escalateAfter);
  assert.ok(firstBlock > firstHold, `block after the hold (${firstBlock} > ${firstHold})`);
  assert.equal(k.slice(firstBlock).every((x) => x === 'block'), true, 'blocked from then on');
  assert.equal(b.blocks.length, 1);
  assert.equal(b.blocks[0].cause, 'ignored_throttles');
  assert.equal(b.blocks[0].until - b.blocks[0].from, BEHAVIOURS.gmail.escalation.blockMs);
  // No accept once throttled: the hold covered every later attempt.
  assert.equal(k.slice(firstThrottle).includes('accept'), false);
});

test('microsoft: ignored 4.7.650 ends in a ban; a poor score is tarpitted first', () => {
  const b = book('microsoft');
  const vs = send(b, '192.0.2.2', 'shop.example', 0, 200, 100);
  const firstBlock = vs.findIndex((v) => v.kind === 'block');
  assert.ok(firstBlock > 0);
  const tarpitted = vs.slice(0, firstBlock).filter((v) => v.delayMs > 0);
  assert.ok(tarpitted.length > 0, 'tarpitted before the ban');
  assert.ok(vs.slice(0, firstBlock).findIndex((v) => v.delayMs > 0) > vs.findIndex((v) => v.kind === 'throttle'), 'tarpit only after the throttles began');
  assert.equal(b.isBlocked('192.0.2.2', 200 * 100), true);
  assert.equal(b.isBlocked('192.0.2.2', 200 * 100 + BEHAVIOURS.microsoft.escalation.blockMs), false, 'the ban is for a period');
});

test('obeying keeps the score: at the rate, never throttled, score stays 1', () => {
  const b = book('gmail');
  // 10 a minute for an hour, evenly spread (one every 6 s).
  const vs = send(b, '192.0.2.3', 'shop.example', 0, 600, 6 * SEC + 1);
  assert.deepEqual([...new Set(kinds(vs))], ['accept']);
  assert.equal(b.score('192.0.2.3', 'shop.example', 600 * 6 * SEC), 1);
  assert.equal(b.blocks.length, 0);
});

test('backing off after a throttle: a small loss, recovered slowly, never a block', () => {
  const b = book('gmail');
  const ip = '192.0.2.4';
  // A burst of 15: ten accepted, five throttled; then the sender waits for the window.
  const burst = kinds(send(b, ip, 'shop.example', 0, 15, 10));
  assert.deepEqual(burst, [...Array(10).fill('accept'), ...Array(5).fill('throttle:ip')]);
  const after = b.score(ip, 'shop.example', 1_000);
  assert.ok(after < 1 && after > BEHAVIOURS.gmail.escalation.blockBelow, `lost a little: ${after}`);
  const resumed = kinds(send(b, ip, 'shop.example', MIN + 1_000, 10, 6 * SEC));
  assert.deepEqual([...new Set(resumed)], ['accept'], 'the next window is open again: no hold');
  // Recovery is slow: not back after a second, back after minutes.
  assert.ok(b.score(ip, 'shop.example', 2 * MIN) < 1);
  assert.equal(b.score(ip, 'shop.example', 30 * MIN), 1);
  assert.equal(b.blocks.length, 0);
});

test('the score is per (IP, sender domain) and the block per IP', () => {
  const b = book('gmail');
  send(b, '192.0.2.5', 'spam.example', 0, 400, 100);
  assert.ok(b.isBlocked('192.0.2.5', 40 * SEC));
  assert.equal(b.score('192.0.2.6', 'spam.example', 40 * SEC), 1, 'another IP keeps its score');
  assert.equal(b.score('192.0.2.5', 'shop.example', 40 * SEC), 1, 'another domain on that IP keeps its score…');
  assert.equal(b.decide('192.0.2.5', 'shop.example', 40 * SEC).kind, 'block', '…but the IP is blocked for everyone');
  assert.equal(b.decide('192.0.2.6', 'spam.example', 40 * SEC).kind, 'accept');
});

test('per-domain rate: two IPs within their own rates still meet the sender domain limit', () => {
  const b = book('gmail', { perIp: { limit: 10, windowMs: MIN }, perDomain: { limit: 15, windowMs: MIN } });
  const a = kinds(send(b, '192.0.2.7', 'shop.example', 0, 10, 10));
  const c = kinds(send(b, '192.0.2.8', 'shop.example', 200, 10, 10));
  assert.deepEqual(a, Array(10).fill('accept'));
  assert.deepEqual(c, [...Array(5).fill('accept'), ...Array(5).fill('throttle:domain')]);
  assert.equal(b.decide('192.0.2.8', 'other.example', 400).kind, 'accept', 'another sender domain has its own budget');
});

test('complaints lower the score until the IP is blocked', () => {
  const b = book('yahoo');
  const per = BEHAVIOURS.yahoo.escalation.complaintPenalty;
  const needed = Math.ceil((1 - BEHAVIOURS.yahoo.escalation.blockBelow) / per + 1e-9);
  for (let i = 0; i < needed - 1; i++) b.complaint('192.0.2.9', 'shop.example', i);
  assert.equal(b.isBlocked('192.0.2.9', needed), false);
  b.complaint('192.0.2.9', 'shop.example', needed);
  assert.equal(b.isBlocked('192.0.2.9', needed + 1), true);
  assert.equal(b.blocks.at(-1)!.cause, 'complaints');
});

test('after a block the score restarts low, and the time blocked is counted once per IP', () => {
  const e = compressed(BEHAVIOURS.gmail.escalation, 60);
  const b = new ReputationBook({ ...e, perIp: { limit: 10, windowMs: SEC } });
  const ip = '192.0.2.10';
  const first = send(b, ip, 'shop.example', 0, 300, 10);
  const blockedAt = first.findIndex((v) => v.kind === 'block') * 10;
  assert.ok(blockedAt > 0);
  const lifted = blockedAt + e.blockMs;
  assert.equal(b.score(ip, 'shop.example', lifted), e.afterBlock);
  assert.equal(b.decide(ip, 'shop.example', lifted + 1).kind, 'accept');
  assert.equal(b.blockedMs(0, lifted + 1), e.blockMs);
  assert.equal(b.blockedMs(0, blockedAt + 1_000), 1_000, 'clipped to the interval asked about');
});

test('compressed: durations divided, recovery multiplied, thresholds kept', () => {
  const e = compressed(BEHAVIOURS.microsoft.escalation, 60);
  assert.equal(e.holdMs, BEHAVIOURS.microsoft.escalation.holdMs / 60);
  assert.equal(e.blockMs, BEHAVIOURS.microsoft.escalation.blockMs / 60);
  assert.equal(e.recoverPerMin, BEHAVIOURS.microsoft.escalation.recoverPerMin * 60);
  assert.equal(e.blockBelow, BEHAVIOURS.microsoft.escalation.blockBelow);
  assert.equal(e.escalateAfter, BEHAVIOURS.microsoft.escalation.escalateAfter);
});

test('connections over the cap are strikes too: kept up, they put the IP on hold', () => {
  const b = book('microsoft');
  const ip = '192.0.2.11';
  const n = BEHAVIOURS.microsoft.escalation.escalateAfter;
  for (let i = 0; i < n - 1; i++) b.connectionRefused(ip, i * 100);
  assert.equal(b.decide(ip, 'shop.example', n * 100).kind, 'accept', 'one short of the threshold: no hold');
  b.connectionRefused(ip, n * 100 + 1);
  const v = b.decide(ip, 'shop.example', n * 100 + 2);
  assert.equal(v.kind === 'throttle' && v.scope, 'hold');
  assert.ok(b.score(ip, 'shop.example', n * 100 + 2) < 1, 'sending into the hold costs score');
  // Refusals spread wider than the strike window never add up.
  const spread = book('microsoft');
  for (let i = 0; i < 3 * n; i++) spread.connectionRefused('192.0.2.12', i * BEHAVIOURS.microsoft.escalation.strikeWindowMs);
  assert.equal(spread.decide('192.0.2.12', 'shop.example', 3 * n * BEHAVIOURS.microsoft.escalation.strikeWindowMs).kind, 'accept');
});
