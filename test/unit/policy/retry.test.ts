import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY, planRetry, toRetrySchedule, type RetrySchedule } from '../../../shared/policy/retry.ts';

const HOUR = 3600_000;

test('planRetry: delays by attempt, jitter on the upper half, capped', () => {
  const s: RetrySchedule = { initialMs: 60_000, factor: 2, maxDelayMs: 10 * 60_000, jitter: 0.5, ttlMs: 24 * HOUR };
  const table: Array<[attempts: number, random: number, delayMs: number]> = [
    [1, 0, 30_000],
    [1, 1, 60_000],
    [1, 0.5, 45_000],
    [2, 1, 120_000],
    [3, 1, 240_000],
    [4, 1, 480_000],
    [5, 1, 600_000], // capped at maxDelayMs
    [9, 0, 300_000], // cap applies before jitter
    [0, 1, 60_000], // attempts below 1 read as the first
  ];
  for (const [attempts, r, delayMs] of table) {
    const d = planRetry({ attempts, acceptedAt: 0, now: 1000, schedule: s, random: () => r });
    assert.deepEqual(d, { action: 'retry', at: 1000 + delayMs, delayMs }, `attempt ${attempts} random ${r}`);
  }
});

test('planRetry: a server-requested minimum delay wins over a shorter backoff', () => {
  const d = planRetry({ attempts: 1, acceptedAt: 0, now: 0, minDelayMs: 90 * 60_000, random: () => 0 });
  assert.deepEqual(d, { action: 'retry', at: 90 * 60_000, delayMs: 90 * 60_000 });
});

test('planRetry: fails once the next attempt would pass the TTL', () => {
  const table: Array<[now: number, action: 'retry' | 'fail']> = [
    [DEFAULT_RETRY.ttlMs - HOUR, 'retry'],
    [DEFAULT_RETRY.ttlMs - 60_000, 'retry'], // lands exactly on the TTL: still allowed
    [DEFAULT_RETRY.ttlMs - 59_999, 'fail'],
    [DEFAULT_RETRY.ttlMs + 1, 'fail'],
  ];
  for (const [now, action] of table) {
    assert.equal(planRetry({ attempts: 1, acceptedAt: 0, now, random: () => 1 }).action, action, String(now));
  }
  const fail = planRetry({ attempts: 7, acceptedAt: 0, now: DEFAULT_RETRY.ttlMs, random: () => 1 });
  assert.deepEqual(fail, { action: 'fail', reason: 'retry window of 72h exhausted after 7 attempts' });
});

test('toRetrySchedule reads human units and refuses nonsense', () => {
  assert.deepEqual(toRetrySchedule({ initial: '10m', factor: 2, max: '2h', jitter: 0.5, ttl: '3d' }), {
    initialMs: 600_000,
    factor: 2,
    maxDelayMs: 2 * HOUR,
    jitter: 0.5,
    ttlMs: 72 * HOUR,
  });
  assert.throws(() => toRetrySchedule({ initial: '10m', factor: 0.5, max: '2h', jitter: 0.5, ttl: '3d' }), /factor/);
  assert.throws(() => toRetrySchedule({ initial: '10m', factor: 2, max: '2h', jitter: 2, ttl: '3d' }), /jitter/);
  assert.throws(() => toRetrySchedule({ initial: '3h', factor: 2, max: '2h', jitter: 0, ttl: '3d' }), /shorter/);
  assert.throws(() => toRetrySchedule({ initial: 'soon', factor: 2, max: '2h', jitter: 0, ttl: '3d' }), /"soon"/);
});
