/**
 * The shaped-vs-naive table of `npm run bench` (bench/shaped.ts runs the scenario): first the
 * deliverability figures seed 002's table compares approaches by — delivered within the TTL,
 * blocks incurred, time blocked — then how the runs got there.
 */
import { cpus } from 'node:os';
import type { SimProviderName } from '../test/simulator/provider-sim.ts';
import { BEHAVIOURS } from '../test/simulator/behaviours.ts';
import { AIMD, BUDGET_SLACK, CAP, NODE, PROVIDERS, TIME_COMPRESSION, WINDOW_MS, emptyCounts, type Counts, type ShapedReport, type ShapedRun } from './shaped.ts';

const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : '—');
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b ? (a / b).toFixed(2) : a === 0 && b === 0 ? '—' : b === 0 ? '∞' : '—');

export function printShaped(r: ShapedReport): void {
  const s = r.runs.shaped;
  const n = r.runs.naive;
  const budgetS = r.budgetMs / 1000;
  console.log('');
  const mix = (Object.keys(PROVIDERS) as SimProviderName[]).map((p) => `${p} ${(PROVIDERS[p].share * 5).toFixed(0)} %`).join(', ');
  console.log(`Shaped vs naive — ${r.messages.toLocaleString('en-US')} messages (${mix}; ${r.messages - r.deliverable} unknown users) to the provider simulator`);
  console.log(`budget ${budgetS} s = ${BUDGET_SLACK} × what the simulated providers' limits need for this workload (slowest provider at its full rate from both IPs)`);
  for (const run of [s, n]) if (run?.error) console.log(`  ${run.mode}: FAILED ${run.error}`);
  if (!s || !n || s.error || n.error) return;
  const rows: string[][] = [['measure (from the first POST)', 'shaped', 'naive', 'shaped/naive']];
  const row = (label: string, a: string, b: string, q: string) => rows.push([label, a, b, q]);
  const ttlS = r.capMs / 1000;
  row(`delivered within the TTL (${ttlS} s), share of deliverable`, pct(s.total.delivered, r.deliverable), pct(n.total.delivered, r.deliverable), ratio(s.total.delivered, n.total.delivered));
  row('blocks incurred (provider × IP)', String(s.blocks.count), String(n.blocks.count), '');
  row('time blocked, IP-seconds', (s.blocks.blockedMs / 1000).toFixed(1), (n.blocks.blockedMs / 1000).toFixed(1), '');
  row('block replies received', String(s.total.blocked), String(n.total.blocked), '');
  const share = (x: ShapedRun) => x.atBudget.delivered / r.deliverable;
  row(`delivered within ${budgetS} s, share of deliverable`, pct(s.atBudget.delivered, r.deliverable), pct(n.atBudget.delivered, r.deliverable), ratio(share(s), share(n)));
  const done = (x: ShapedRun) => (x.atBudget.delivered + x.atBudget.bounced) / r.messages;
  row(`done within ${budgetS} s (delivered + bounced)`, pct(s.atBudget.delivered + s.atBudget.bounced, r.messages), pct(n.atBudget.delivered + n.atBudget.bounced, r.messages), ratio(done(s), done(n)));
  const secs = (x: ShapedRun) => (x.completeMs === null ? `> ${r.capMs / 1000} s` : `${(x.completeMs / 1000).toFixed(1)} s`);
  row(`completion time (runs go on to ${r.capMs / 1000} s)`, secs(s), secs(n), s.completeMs !== null && n.completeMs !== null ? ratio(s.completeMs, n.completeMs) : '—');
  row('attempts (what the providers saw, whole run)', s.total.attempts.toLocaleString('en-US'), n.total.attempts.toLocaleString('en-US'), ratio(s.total.attempts, n.total.attempts));
  const deferred = (x: ShapedRun) => x.total.throttled + x.total.refused + x.total.deferred + x.total.blocked;
  const rate = (a: number, x: ShapedRun) => (x.total.attempts ? a / x.total.attempts : 0);
  row('deferral rate (4xx answers / attempts)', pct(deferred(s), s.total.attempts), pct(deferred(n), n.total.attempts), ratio(rate(deferred(s), s), rate(deferred(n), n)));
  row('  throttle replies / attempts', pct(s.total.throttled, s.total.attempts), pct(n.total.throttled, n.total.attempts), ratio(rate(s.total.throttled, s), rate(n.total.throttled, n)));
  row('  connection-cap refusals / attempts', pct(s.total.refused, s.total.attempts), pct(n.total.refused, n.total.attempts), ratio(rate(s.total.refused, s), rate(n.total.refused, n)));
  row('  random deferrals / attempts', pct(s.total.deferred, s.total.attempts), pct(n.total.deferred, n.total.attempts), ratio(rate(s.total.deferred, s), rate(n.total.deferred, n)));
  row('throttle replies, count', String(s.total.throttled), String(n.total.throttled), ratio(s.total.throttled, n.total.throttled));
  row(`bounces (unknown users), whole run`, String(s.total.bounced), String(n.total.bounced), ratio(s.total.bounced, n.total.bounced));
  row('duplicate deliveries', String(s.total.duplicates), String(n.total.duplicates), '');
  for (const p of Object.keys(PROVIDERS)) {
    const a = s.byProvider[p] ?? emptyCounts();
    const b = n.byProvider[p] ?? emptyCounts();
    const cell = (c: Counts, peak: number | undefined) => `${c.delivered} ok, ${c.throttled} thr, ${c.refused} ref / ${c.attempts} (peak ${peak ?? 0} conn)`;
    row(`  ${p}: delivered, throttled, refused / attempts`, cell(a, s.peakConnections[p]), cell(b, n.peakConnections[p]), ratio(a.delivered, b.delivered));
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((x) => x[c].length)));
  const line = (x: string[]) => x.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const x of rows.slice(1)) console.log(line(x));
  const rates = Object.entries(s.policy.lastRates).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`shaped policy: ${s.policy.cuts} AIMD cuts, ${s.policy.raises} raises${rates ? ` (last: ${rates})` : ''}; ${s.policy.suspensions} IP suspensions; breaker moves: ${s.policy.breaker.join('; ') || 'none'}`);
  console.log(`shaped hold-backs ('throttled' trace events): ${(s.events.throttled ?? 0).toLocaleString('en-US')}; deferred by class: shaped ${JSON.stringify(s.deferredClasses)}, naive ${JSON.stringify(n.deferredClasses)}`);
  console.log(`load average (1 min) at the start: shaped ${s.load.toFixed(1)}, naive ${n.load.toFixed(1)} on ${cpus().length} cores — on a shared machine every time figure is pessimistic`);
  console.log(`queued in: shaped ${(s.queuedMs / 1000).toFixed(1)} s, naive ${(n.queuedMs / 1000).toFixed(1)} s (batches of 1,000, lane lifecycle, RSA-2048 DKIM)`);
  const sim = (Object.keys(PROVIDERS) as SimProviderName[]).map((p) => `${p} ${PROVIDERS[p].sim.perIpPerSec}/s/IP, ${PROVIDERS[p].sim.maxConnections} conn, ${PROVIDERS[p].sim.deferRate * 100} % random 4xx; table ${PROVIDERS[p].tablePerIpPerMin / 60}/s/IP`).join('; ');
  console.log(`simulator (per source IP over ${WINDOW_MS / 1000} s windows, 2 IPs): ${sim}`);
  console.log(`node (both runs): capacity ${NODE.capacity}, ${NODE.limits.maxConnections} connections per provider and IP (yahoo ${NODE.providerLimits.yahoo.maxConnections}); retries 1–4 s; AIMD ×${AIMD.decreaseFactor} / +${AIMD.increase} per ${AIMD.increaseInterval}, hold-off ${AIMD.decreaseHoldoff}`);
  for (const x of [s, n]) if (x.blocks.list.length) console.log(`${x.mode} blocks: ${x.blocks.list.join('; ')}`);
  const esc = (Object.keys(PROVIDERS) as SimProviderName[]).map((p) => {
    const e = BEHAVIOURS[p].escalation;
    return `${p} hold after ${e.escalateAfter} throttles, block below score ${e.blockBelow} for ${e.blockMs / 60_000} min${e.tarpitBelow > 0 ? `, tarpit below ${e.tarpitBelow}` : ''}`;
  });
  console.log(`provider judgement (test/simulator/behaviours.ts, clock ×${TIME_COMPRESSION}: a real minute is a bench second): ${esc.join('; ')}; no per-domain limit in this workload (one sender domain)`);
  console.log(`TTL = the run's cap (${CAP} × the budget): a message not delivered by then counts as expired.`);
  console.log(
    `BENCH_SHAPED_JSON ${JSON.stringify({
      messages: r.messages,
      budget_s: budgetS,
      cap_s: r.capMs / 1000,
      ttl_s: r.capMs / 1000,
      shaped: { delivered_ttl_share: +(s.total.delivered / r.deliverable).toFixed(3), blocks: s.blocks.count, blocked_ip_s: +(s.blocks.blockedMs / 1000).toFixed(1), delivered_share: +share(s).toFixed(3), deferral_rate: +rate(deferred(s), s).toFixed(3), throttle_rate: +rate(s.total.throttled, s).toFixed(3), bounces: s.total.bounced, complete_s: s.completeMs && +(s.completeMs / 1000).toFixed(1) },
      naive: { delivered_ttl_share: +(n.total.delivered / r.deliverable).toFixed(3), blocks: n.blocks.count, blocked_ip_s: +(n.blocks.blockedMs / 1000).toFixed(1), delivered_share: +share(n).toFixed(3), deferral_rate: +rate(deferred(n), n).toFixed(3), throttle_rate: +rate(n.total.throttled, n).toFixed(3), bounces: n.total.bounced, complete_s: n.completeMs && +(n.completeMs / 1000).toFixed(1) },
    })}`,
  );
}
