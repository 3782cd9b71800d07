import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseRate, parseThreshold, formatDuration, PolicyUnitError } from '../../../shared/policy/units.ts';

test('durations parse to milliseconds', () => {
  const table: Array<[string, number]> = [
    ['90s', 90_000],
    ['20m', 1_200_000],
    ['4h', 14_400_000],
    ['3d', 259_200_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    [' 2 hours ', 7_200_000],
    ['0s', 0],
  ];
  for (const [input, ms] of table) assert.equal(parseDuration(input), ms, input);
});

test('rates parse to per-second numbers', () => {
  const table: Array<[string, number]> = [
    ['5/s', 5],
    ['100/min', 100 / 60],
    ['2/hr', 2 / 3600],
    ['1000/day', 1000 / 86400],
    ['1/min', 1 / 60],
    ['10/5m', 10 / 300],
    ['0/min', 0],
    ['3 / hour', 3 / 3600],
  ];
  for (const [input, rate] of table) assert.ok(Math.abs(parseRate(input) - rate) < 1e-12, input);
});

test('bad values are refused with an error naming the value', () => {
  for (const bad of ['20', '20x', '', 'm20', '-5m', '4h junk']) {
    assert.throws(() => parseDuration(bad), (e: Error) => e instanceof PolicyUnitError && e.message.includes(`"${bad}"`), bad);
  }
  for (const bad of ['100', '100/fortnight', 'fast', '/min', '5/0m']) {
    assert.throws(() => parseRate(bad), (e: Error) => e instanceof PolicyUnitError && e.message.includes(`"${bad}"`), bad);
  }
});

test('durations format back to human units', () => {
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(259_200_000), '3d');
  assert.equal(formatDuration(250), '250ms');
});

test('thresholds keep count and window', () => {
  assert.deepEqual(parseThreshold('3/hr'), { count: 3, periodMs: 3_600_000 });
  assert.deepEqual(parseThreshold('2/10m'), { count: 2, periodMs: 600_000 });
  assert.throws(() => parseThreshold('0/hr'), /"0\/hr"/);
  assert.throws(() => parseThreshold('often'), /"often"/);
});
