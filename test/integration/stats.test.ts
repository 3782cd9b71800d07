/**
 * Delivery statistics end to end: 300 messages through the embedded platform to a sink that
 * defers some recipients once (421 4.7.0) and bounces others (550 5.1.1). The rollups are kept
 * as the events are written; GET /v1/stats must agree with what the test computes from the raw
 * events in the store: counts and rates exactly, and every percentile within its histogram
 * bucket (a bucket spans a factor of 2^(1/4) ≈ 1.19, so the reported [lower_ms, upper_ms)
 * must hold the true nearest-rank percentile). Also: the health view, the NDJSON exports and
 * the Prometheus counters over the same rollups.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { smtpError, startSink, type Sink } from '../mta-node/helpers.ts';

const TOTAL = 300;
const isDefer = (i: number) => i % 10 === 3;
// Few enough bounces (2.7 %) that the pool's breaker stays closed (slow start at 5 %).
const isBounce = (i: number) => i % 40 === 7;
const domainOf = (i: number) => (i % 3 === 0 ? 'b.test' : 'a.test');

interface RawAttempt {
  type: string;
  at: number;
  data: Record<string, any>;
  createdAt: number;
  domain: string;
}

function nearestRank(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
}

/** The three latencies computed from the raw trace, by their definitions (SPEC §7). */
function rawLatencies(events: RawAttempt[]) {
  const firstAttempt: number[] = [];
  const accept: number[] = [];
  const final: number[] = [];
  for (const e of events) {
    const attempt = ['delivered', 'deferred', 'bounced'].includes(e.type) && e.data.async !== true;
    if (attempt && e.data.attempt === 1) firstAttempt.push(e.at - e.data.duration_ms - e.createdAt);
    if (e.type === 'delivered') accept.push(e.at - e.createdAt);
    if (e.type === 'delivered' || e.type === 'failed' || (e.type === 'bounced' && e.data.async !== true)) final.push(e.at - e.createdAt);
  }
  return { first_attempt: firstAttempt, accept, final };
}

function assertPercentiles(view: any, raw: Record<string, number[]>, what: string) {
  for (const metric of ['first_attempt', 'accept', 'final']) {
    assert.equal(view[metric].count, raw[metric].length, `${what} ${metric} count`);
    for (const p of [50, 90, 95, 99]) {
      const truth = nearestRank(raw[metric], p / 100);
      const got = view[metric][`p${p}`];
      assert.ok(got, `${what} ${metric} p${p} present`);
      // Bounds are rounded to µs in the answer.
      assert.ok(got.lower_ms <= truth + 0.001 && truth < got.upper_ms + 0.001, `${what} ${metric} p${p}: true ${truth} ms in [${got.lower_ms}, ${got.upper_ms})`);
      assert.ok(got.upper_ms / Math.max(got.lower_ms, 1) <= 1.19 || got.lower_ms < 1, 'one bucket wide');
    }
  }
}

describe('GET /v1/stats over rollups', () => {
  let sink: Sink;
  let p: Platform;
  const tried = new Set<string>();
  let raw: RawAttempt[] = [];
  const started = new Date(Date.now() - 60_000).toISOString();

  before(async () => {
    sink = await startSink({
      onRcpt: (to) => {
        const i = Number(/^r(\d+)@/.exec(to)?.[1] ?? -1);
        if (isBounce(i)) return smtpError(550, '5.1.1 no such user');
        if (isDefer(i) && !tried.has(to)) {
          tried.add(to);
          return smtpError(421, '4.7.0 try again later');
        }
        return null;
      },
    });
    p = await startPlatform({ sinkPort: sink.port });
    await addDomain(p, 'stats.test');
    await p.startNode();
    for (let b = 0; b < TOTAL / 100; b++) {
      const messages = Array.from({ length: 100 }, (_, j) => {
        const i = b * 100 + j;
        return { from: 'app@stats.test', to: `r${i}@${domainOf(i)}`, subject: `stats ${i}`, text: 'x' };
      });
      const res = await p.api('POST', '/v1/messages/batch', { messages });
      assert.ok(res.status < 300, JSON.stringify(res.body).slice(0, 300));
    }
    await waitFor(async () => {
      const rs = await p.edge.client.execute("SELECT count(*) AS n FROM delivery_jobs WHERE state IN ('delivered', 'bounced', 'failed')");
      return Number(rs.rows[0].n) === TOTAL;
    }, 120_000, 'every job final').catch(async (err) => {
      const rs = await p.edge.client.execute('SELECT state, last_class, count(*) AS n FROM delivery_jobs GROUP BY 1, 2');
      throw new Error(`${err.message}: ${JSON.stringify(rs.rows)}`);
    });
    const rs = await p.edge.client.execute(
      "SELECT e.type, e.at, e.data, j.created_at, j.domain FROM message_events e JOIN delivery_jobs j ON j.id = e.job_id WHERE e.type IN ('delivered', 'deferred', 'bounced', 'failed', 'complained') ORDER BY e.id",
    );
    raw = rs.rows.map((r) => ({ type: String(r.type), at: Number(r.at), data: JSON.parse(String(r.data)), createdAt: Number(r.created_at), domain: String(r.domain) }));
  });

  after(async () => {
    await p?.stop();
    await sink?.close();
  });

  test('counts, rates and percentiles match the raw events', async () => {
    const bounced = Array.from({ length: TOTAL }, (_, i) => i).filter(isBounce).length;
    const deferred = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => isDefer(i) && !isBounce(i)).length;
    const res = await p.api('GET', `/v1/stats?from=${started}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const s = res.body;
    assert.deepEqual(
      { delivered: s.outcomes.delivered, deferred: s.outcomes.deferred, bounced: s.outcomes.bounced, failed: s.outcomes.failed },
      { delivered: TOTAL - bounced, deferred, bounced, failed: 0 },
    );
    assert.equal(s.outcomes.attempts, TOTAL + deferred);
    assert.equal(s.outcomes.rates.deferred, Math.round((deferred / (TOTAL + deferred)) * 1e6) / 1e6);
    assert.equal(s.histogram_bucket_factor, 1.189207);
    assertPercentiles(s.latency, rawLatencies(raw), 'all');

    const codes = s.codes as any[];
    const defer = codes.find((c) => c.outcome === 'deferred');
    assert.deepEqual([defer.enhanced, defer.code, defer.count, defer.share], ['4.7.0', 421, deferred, 1]);
    assert.ok(defer.class, 'a deferral has its reply class');
    const bounce = codes.find((c) => c.outcome === 'bounced');
    assert.deepEqual([bounce.enhanced, bounce.code, bounce.class, bounce.count], ['5.1.1', 550, 'unknown_user', bounced]);
    assert.match(bounce.hint, /\w/, 'the class comes with its hint');
  });

  test('filters and buckets: a recipient domain, a minute series, an unknown provider', async () => {
    const res = await p.api('GET', `/v1/stats?from=${started}&domain=B.test&bucket=minute`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const onB = raw.filter((e) => e.domain === 'b.test');
    assert.equal(res.body.outcomes.delivered, onB.filter((e) => e.type === 'delivered').length);
    assert.equal(res.body.outcomes.bounced, onB.filter((e) => e.type === 'bounced').length);
    assertPercentiles(res.body.latency, rawLatencies(onB), 'b.test');
    assert.deepEqual(res.body.filters, { domain: 'b.test' });
    const series = res.body.series as any[];
    assert.ok(series.length >= 1);
    assert.deepEqual(series.map((b) => b.start), [...series.map((b) => b.start)].sort(), 'buckets in time order');
    assert.equal(series.reduce((n, b) => n + b.outcomes.delivered, 0), res.body.outcomes.delivered, 'the series adds up to the totals');
    assert.equal(series.reduce((n, b) => n + b.latency.accept.count, 0), res.body.latency.accept.count);
    for (const b of series) assert.equal(new Date(b.start).getUTCSeconds(), 0, 'minute buckets start on the minute');

    const none = await p.api('GET', `/v1/stats?from=${started}&provider=nobody`);
    assert.equal(none.body.outcomes.attempts, 0);
    assert.equal(none.body.latency.accept.p50, null);
    const bad = await p.api('GET', `/v1/stats?from=${new Date().toISOString()}&to=${started}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'from');
  });

  test('reputation health: the pool and the sending domain with their rates and states', async () => {
    const res = await p.api('GET', '/v1/stats/health');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const pool = res.body.data.find((d: any) => d.kind === 'pool' && d.name === 'default');
    const domain = res.body.data.find((d: any) => d.kind === 'domain' && d.name === 'stats.test');
    assert.ok(pool && domain, JSON.stringify(res.body.data));
    const attempts = raw.filter((e) => ['delivered', 'deferred', 'bounced'].includes(e.type)).length;
    const bounces = raw.filter((e) => e.type === 'bounced').length;
    for (const h of [pool, domain]) {
      assert.equal(h.hard_bounce_rate.volume, attempts);
      assert.equal(h.hard_bounce_rate.current, Math.round((bounces / attempts) * 1e6) / 1e6);
      assert.equal(h.hard_bounce_rate.baseline, null, 'no mail before the window');
      // 8 of 330 attempts bounced (2.4 %: over the 2 % watch line); 30 deferred (9 %: under the 10 % watch line).
      assert.equal(h.hard_bounce_rate.state, 'watch');
      assert.equal(h.deferral_rate.state, 'good');
      assert.equal(h.complaint_rate.state, 'good');
      assert.equal(h.state, 'watch', 'the worst signal decides');
    }
    assert.equal(res.body.baseline.days, 14);
  });

  test('NDJSON exports: every event and every rollup of the range, one object per line', async () => {
    const to = new Date(Date.now() + 60_000).toISOString();
    const ev = await fetch(`${p.edge.url}/v1/export/events?from=${started}&to=${to}`, { headers: { authorization: `Bearer ${p.edge.apiKey}` } });
    assert.equal(ev.status, 200);
    assert.match(ev.headers.get('content-type') ?? '', /ndjson/);
    const lines = (await ev.text()).trim().split('\n').map((l) => JSON.parse(l));
    const [{ n }] = (await p.edge.client.execute('SELECT count(*) AS n FROM message_events')).rows as any;
    assert.equal(lines.length, Number(n), 'every event once');
    assert.deepEqual(lines.map((l) => l.id), [...lines.map((l) => l.id)].sort((a, b) => a - b), 'in commit order');
    assert.ok(lines.every((l) => l.tenant && l.message_id && l.type && l.at));

    const ro = await fetch(`${p.edge.url}/v1/export/rollups?from=${started}&to=${to}`, { headers: { authorization: `Bearer ${p.edge.apiKey}` } });
    const rollups = (await ro.text()).trim().split('\n').map((l) => JSON.parse(l));
    const count = (o: string) => rollups.filter((r) => r.outcome === o).reduce((s, r) => s + r.count, 0);
    assert.equal(count('delivered'), raw.filter((e) => e.type === 'delivered').length);
    assert.equal(count('deferred'), raw.filter((e) => e.type === 'deferred').length);

    const empty = await fetch(`${p.edge.url}/v1/export/events?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`, { headers: { authorization: `Bearer ${p.edge.apiKey}` } });
    assert.equal((await empty.text()).trim(), '');
  });

  test('Prometheus: delivery outcomes by provider, pool and class', async () => {
    const res = await fetch(`${p.edge.url}/metrics`, { headers: { authorization: `Bearer ${p.edge.apiKey}` } });
    const text = await res.text();
    const series = text.split('\n').filter((l) => l.startsWith('postlane_delivery_outcomes_total{'));
    const sum = (outcome: string) => series.filter((l) => l.includes(`outcome="${outcome}"`)).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    assert.equal(sum('delivered'), raw.filter((e) => e.type === 'delivered').length);
    assert.ok(series.some((l) => l.includes('outcome="bounced"') && l.includes('class="unknown_user"') && l.includes('pool="default"')), series.join('\n'));
  });
});
