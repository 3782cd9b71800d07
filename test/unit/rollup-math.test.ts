/**
 * The pure statistics math: log-scale histogram buckets and percentiles, the rollup deltas a
 * batch of events adds, reputation health against a baseline, and spike detection.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BUCKET_RESOLUTION, bucketBounds, bucketOf, histogramOf, MAX_BUCKET, percentile } from '../../edge/stats/histogram.ts';
import { minuteOf, rollupDeltas, type JobDimensions } from '../../edge/stats/rollup.ts';
import { latencyHealth, rateHealth, spikeReading, spikeResolved, spikeTripped, worstState, type SpikeRule } from '../../edge/stats/baseline.ts';
import { effectiveRules } from '../../edge/alerts/rules.ts';

describe('histogram', () => {
  test('every value lies in its bucket, and buckets span 2^(1/4)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000_000_000 }), (ms) => {
        const b = bucketOf(ms);
        const { lower, upper } = bucketBounds(b);
        assert.ok(lower <= ms * (1 + 1e-12) && ms < upper * (1 + 1e-12), `${ms} in [${lower}, ${upper})`);
        if (b > 0 && b < MAX_BUCKET) assert.ok(Math.abs(upper / lower - BUCKET_RESOLUTION) < 1e-9);
      }),
    );
    assert.equal(bucketOf(0), 0);
    assert.equal(bucketOf(0.5), 0);
    assert.equal(bucketOf(1), 1);
    assert.equal(bucketOf(2), 5);
    assert.equal(bucketOf(1e15), MAX_BUCKET);
  });

  test('percentiles from the buckets hold the nearest-rank percentile of the raw values', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 400 }), fc.constantFrom(0.5, 0.9, 0.95, 0.99), (values, p) => {
        const h = histogramOf(values.map((v) => ({ bucket: bucketOf(v), count: 1 })));
        const sorted = [...values].sort((a, b) => a - b);
        const truth = sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
        const est = percentile(h, p)!;
        assert.ok(est.lower_ms <= truth + 1e-3 && truth < est.upper_ms + 1e-3, `p${p * 100} ${truth} in [${est.lower_ms}, ${est.upper_ms})`);
        assert.ok(est.value_ms >= est.lower_ms && est.value_ms <= est.upper_ms);
      }),
    );
    assert.equal(percentile(new Map(), 0.5), null);
  });
});

describe('rollup deltas', () => {
  const job: JobDimensions = { tenantId: 't1', lane: 'transactional', pool: 'shared', provider: 'gmail', domain: 'gmail.com', senderDomain: 's.test', createdAt: 1_000_000 };
  const jobs = new Map([['j1', job], ['j2', { ...job, provider: 'yahoo', domain: 'yahoo.com' }]]);
  const attempt = (attemptNo: number, extra: Record<string, unknown> = {}) => ({ attempt: attemptNo, duration_ms: 500, code: 421, enhanced: '4.7.28', class: 'rate_limited', ...extra });

  test('counts outcomes per minute and dimension, with class and codes', () => {
    const d = rollupDeltas(
      [
        { jobId: 'j1', type: 'deferred', at: 1_030_000, data: attempt(1) },
        { jobId: 'j1', type: 'deferred', at: 1_040_000, data: attempt(2) },
        { jobId: 'j1', type: 'delivered', at: 1_100_000, data: { attempt: 3, duration_ms: 100, code: 250, enhanced: '2.0.0' } },
        { jobId: 'j2', type: 'bounced', at: 1_010_000, data: attempt(1, { code: 550, enhanced: '5.1.1', class: 'unknown_user' }) },
        { jobId: 'j2', type: 'leased', at: 1_005_000, data: { attempt: 1 } },
        { jobId: 'missing', type: 'delivered', at: 1_005_000, data: attempt(1) },
      ],
      jobs,
    );
    const deferred = d.counts.find((c) => c.outcome === 'deferred')!;
    assert.equal(deferred.count, 2, 'two deferrals of one minute and dimension add up');
    assert.equal(deferred.minute, minuteOf(1_040_000));
    assert.deepEqual([deferred.replyClass, deferred.enhanced, deferred.code], ['rate_limited', '4.7.28', 421]);
    assert.equal(d.counts.find((c) => c.outcome === 'delivered')!.replyClass, '');
    assert.equal(d.counts.find((c) => c.outcome === 'bounced')!.provider, 'yahoo');
    assert.equal(d.counts.reduce((n, c) => n + c.count, 0), 4, 'lease events and unknown jobs add nothing');

    const metric = (m: string, provider = 'gmail') => d.latencies.filter((l) => l.metric === m && l.provider === provider);
    assert.deepEqual(metric('first_attempt').map((l) => l.bucket), [bucketOf(1_030_000 - 500 - 1_000_000)], 'first attempt: attempt 1 start minus accept');
    assert.deepEqual(metric('accept').map((l) => l.bucket), [bucketOf(100_000)]);
    assert.deepEqual(metric('final').map((l) => l.bucket), [bucketOf(100_000)]);
    assert.deepEqual(metric('final', 'yahoo').map((l) => l.bucket), [bucketOf(10_000)], 'a synchronous bounce is a final disposition');
  });

  test('an async bounce and a complaint count, without latencies', () => {
    const d = rollupDeltas(
      [
        { jobId: 'j1', type: 'bounced', at: 2_000_000, data: { async: true, status: '5.1.1', class: 'unknown_user' } },
        { jobId: 'j1', type: 'complained', at: 2_000_000, data: { suppressed: true } },
      ],
      jobs,
    );
    assert.deepEqual(d.counts.map((c) => [c.outcome, c.enhanced]).sort(), [['bounced', '5.1.1'], ['complained', '']]);
    assert.equal(d.latencies.length, 0);
  });
});

describe('baseline health', () => {
  const t = { watch: 0.1, bad: 0.3, watchRatio: 2, badRatio: 4, minVolume: 50 };
  test('absolute thresholds, deviation from the baseline, and the volume guard', () => {
    assert.equal(rateHealth({ events: 1, volume: 100 }, { events: 10, volume: 1000 }, t).state, 'good');
    const watch = rateHealth({ events: 12, volume: 100 }, { events: 100, volume: 1000 }, t);
    assert.equal(watch.state, 'watch');
    assert.equal(watch.deviation, 0.02);
    assert.equal(watch.ratio, 1.2);
    assert.equal(rateHealth({ events: 6, volume: 100 }, { events: 10, volume: 1000 }, t).state, 'watch', '6 % is 6× a 1 % baseline');
    assert.equal(rateHealth({ events: 11, volume: 100 }, { events: 10, volume: 1000 }, t).state, 'bad', '11× the baseline past the watch rate');
    assert.equal(rateHealth({ events: 40, volume: 100 }, { events: 0, volume: 0 }, t).state, 'bad');
    const low = rateHealth({ events: 10, volume: 10 }, { events: 0, volume: 100 }, t);
    assert.deepEqual([low.state, low.low_volume], ['good', true]);
    assert.equal(latencyHealth(5000, 1000, 100, t).state, 'bad');
    assert.equal(latencyHealth(2500, 1000, 100, t).state, 'watch');
    assert.equal(latencyHealth(1100, 1000, 100, t).state, 'good');
    assert.equal(worstState(['good', 'watch', 'good']), 'watch');
  });
});

describe('spike detection', () => {
  const rule: SpikeRule = { windowMs: 60_000, minVolume: 20, factor: 3, minRate: 0.2, resolveBelow: 0.5 };
  test('trips over max(min rate, factor × baseline) with enough volume; resolves under half of it', () => {
    const spike = spikeReading({ events: 15, volume: 30 }, { events: 10, volume: 1000 }, rule);
    assert.equal(spike.threshold, 0.2);
    assert.ok(spikeTripped(spike, rule));
    assert.ok(!spikeResolved(spike, rule));
    assert.ok(!spikeTripped(spikeReading({ events: 10, volume: 10 }, { events: 0, volume: 0 }, rule), rule), 'minimum-volume guard');
    const highBase = spikeReading({ events: 25, volume: 100 }, { events: 100, volume: 1000 }, rule);
    assert.equal(highBase.threshold, 0.3);
    assert.ok(!spikeTripped(highBase, rule), '25 % is under 3 × a 10 % baseline');
    assert.ok(spikeResolved(spikeReading({ events: 5, volume: 100 }, { events: 0, volume: 1000 }, rule), rule));
    assert.ok(!spikeResolved(spikeReading({ events: 15, volume: 100 }, { events: 0, volume: 1000 }, rule), rule), 'hysteresis: 15 % is not under half of 20 %');
    assert.ok(spikeResolved(spikeReading({ events: 0, volume: 0 }, { events: 0, volume: 1000 }, rule), rule), 'nothing left in the window');
  });

  test('rule settings lay over the defaults', () => {
    const rules = effectiveRules([{ id: 'deferral_spike', settings: { min_volume: 5 }, updatedAt: 7 }]);
    const d = rules.find((r) => r.id === 'deferral_spike')!;
    assert.equal(d.settings.min_volume, 5);
    assert.equal(d.settings.factor, 3);
    assert.equal(d.customizedAt, 7);
    assert.equal(rules.find((r) => r.id === 'bounce_spike')!.customizedAt, null);
  });
});
