/**
 * The "shaped" scenario of `npm run bench` (SPEC §4, §9): one mixed workload against the
 * provider simulator (test/simulator/provider-sim.ts), run twice in the same bench run —
 *
 *   shaped  the Shaper as shipped (provider table + AIMD + breakers), with an operator table
 *   naive   no Shaper: the hub leases as fast as the node pulls (the baseline)
 *
 * — and compared as seed 002's table compares approaches: delivered within the TTL, blocks
 * incurred and time blocked, then the delivered share within a tighter time budget, deferral
 * rate (with throttle replies and connection refusals apart), bounces, completion time.
 *
 * The simulator judges senders as providers do (test/simulator/reputation.ts with each
 * provider's record in behaviours.ts, its clock TIME_COMPRESSION times faster): a sender that
 * keeps going after the throttle replies is held longer and then blocked for its IP (Gmail
 * 550 5.7.1, Microsoft 550 5.7.606, Yahoo [TS03]); the score per (IP, sender domain) recovers
 * slowly. Obeying the throttles costs nothing.
 *
 * Time is compressed so a run takes a minute, not a day: the simulator's windows are 5 s, the
 * AIMD and breaker clocks are seconds instead of minutes and the retry schedule is bounded to
 * 1–4 s (POSTLANE_RETRY_INITIAL_MS / _MAX_MS), so deferred mail is tried again within the budget.
 * IP suspensions (90 min in the Shaper) are not compressed: the table keeps Yahoo under its
 * limit, as an operator does for a provider whose throttle reply suspends the IP.
 *
 * Processes, all loopback and all stopped on exit, error and Ctrl-C (lib/proc.ts):
 *   provider-sim child     four smtp-server instances (gmail, microsoft, yahoo, other)
 *   shaped-platform child  the edge (libSQL file, WAL) + one MtaNode with source IPs 127.0.0.1, 127.0.0.2
 * The figures are read from the simulator: what the providers saw is what a sender's reputation
 * is made of. Nothing here is asserted: the bench prints figures.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { nextMessage, sleep, spawnTs, stopChild } from './lib/proc.ts';
import { registerDomain, type EdgeTarget } from './lib/measure.ts';
import { benchMessage } from './lib/message.ts';
import type { ShapedPlatformConfig } from './children/shaped-platform.ts';
import type { SimChildConfig, SimRow } from './children/provider-sim.ts';
import { seeded, type SimProviderName } from '../test/simulator/provider-sim.ts';
import { blockedMs } from '../test/simulator/reputation.ts';
import type { SimBlock } from './children/provider-sim.ts';
import type { AimdPolicy } from '../shared/policy/aimd.ts';
import type { BreakerPolicy } from '../shared/policy/breaker.ts';
import { DEFAULT_BREAKER } from '../shared/policy/breaker.ts';

type Mode = 'shaped' | 'naive';

/** The simulator's sliding window: every per-IP limit below is "per second" over 5 s. */
export const WINDOW_MS = 5_000;
/** The budget is this many times the least time the providers' limits allow (budgetFor). */
export const BUDGET_SLACK = 1.25;
/**
 * Runs go on to this many budgets; that is the messages' TTL here (real TTLs are days: the
 * compressed clock makes them this): what is not delivered by then has expired.
 */
export const CAP = 3;
/** The providers' escalation clocks run this much faster than real time: a minute is a second. */
export const TIME_COMPRESSION = 60;

/**
 * Per provider: its share of the workload (out of 20), what the simulator enforces per source IP,
 * and what the operator's table says. Two of the four the table knows with a margin (Microsoft's
 * 4.7.650 and Yahoo's TSS04 are reputation signals: an operator stays under them); Gmail's and
 * the small providers' it overestimates by a quarter and a third, and AIMD has to find them.
 * Bursts count: a per-IP bucket of rate r lets r + r × 5.5 s through in a 5 s window with lease
 * jitter, which the known rates keep under the simulator's window.
 */
export const PROVIDERS: Record<SimProviderName, { share: number; sim: { perIpPerSec: number; maxConnections: number; deferRate: number }; tablePerIpPerMin: number }> = {
  gmail: { share: 8, sim: { perIpPerSec: 20, maxConnections: 8, deferRate: 0.03 }, tablePerIpPerMin: 1_500 },
  microsoft: { share: 5, sim: { perIpPerSec: 15, maxConnections: 6, deferRate: 0.05 }, tablePerIpPerMin: 660 },
  yahoo: { share: 3, sim: { perIpPerSec: 10, maxConnections: 6, deferRate: 0.04 }, tablePerIpPerMin: 420 },
  other: { share: 4, sim: { perIpPerSec: 15, maxConnections: 8, deferRate: 0.02 }, tablePerIpPerMin: 1_200 },
};
const DOMAINS: Record<SimProviderName, string[]> = {
  gmail: ['gmail.com', 'googlemail.com'],
  microsoft: ['outlook.com', 'hotmail.com'],
  yahoo: ['yahoo.com', 'aol.com'],
  other: ['other.test'],
};
export const IPS = ['127.0.0.1', '127.0.0.2'];
/** Every UNKNOWN_EVERY-th recipient does not exist (the simulator answers 550 5.1.1 and kin). */
const UNKNOWN_EVERY = 64;
const FROM_DOMAIN = 'shop.bench.test';

/** The shipped AIMD shape (halve on a throttle, additive steps), its minutes made seconds. */
export const AIMD: AimdPolicy = { floor: '60/min', ceiling: '1000000/min', start: '600/min', decreaseFactor: 0.5, increase: '120/min', acceptsPerIncrease: 20, increaseInterval: '3s', decreaseHoldoff: '3s' };
/** The shipped breaker thresholds; window, cool-down and slow-start steps in seconds. */
const BREAKER: BreakerPolicy = { ...DEFAULT_BREAKER, window: '30s', bucket: '3s', coolDown: '10s', slowStartInterval: '3s', floor: '600/min', full: '6000/min' };

/** The same for both runs: only the hub's shaping differs. */
export const NODE = {
  capacity: 200,
  // The node's own connection limits (per destination and source IP) are above some providers'
  // caps: an unshaped stream finds the caps, a shaped one needs fewer sessions. Yahoo answers a
  // refused connection with TSS04 (suspend the IP), so its limit is set below its cap.
  limits: { maxConnections: 5, maxMessagesPerConnection: 100 },
  providerLimits: { yahoo: { maxConnections: 2, maxMessagesPerConnection: 20 } },
};
const EDGE_ENV = {
  POSTLANE_TENANT_RATE: '1000000',
  POSTLANE_TENANT_BURST: '1000000',
  POSTLANE_API_KEY: 'pl_bench_0123456789abcdef',
  POSTLANE_NODE_TOKEN: 'plnode_bench_0123456789abcdef',
  POSTLANE_LEASE_TTL_MS: '30000',
  POSTLANE_HEARTBEAT_MS: '2000',
  POSTLANE_RETRY_INITIAL_MS: '1000',
  POSTLANE_RETRY_MAX_MS: '4000',
};

export interface ShapedOptions {
  dir: string;
  quick: boolean;
  log: (s: string) => void;
}

export interface Counts {
  attempts: number;
  delivered: number;
  duplicates: number;
  bounced: number;
  throttled: number;
  refused: number;
  deferred: number;
  blocked: number;
}

export interface ShapedRun {
  mode: Mode;
  error?: string;
  /** The machine's 1-minute load average when the run started: a shared machine shows here. */
  load: number;
  queuedMs: number;
  /** From the first POST until every recipient had a final answer; null: not within the cap. */
  completeMs: number | null;
  /** What the providers saw from the first POST until the end of the run (done or the cap). */
  total: Counts;
  byProvider: Record<string, Counts>;
  /** The same within the budget. */
  atBudget: Counts;
  peakConnections: Record<string, number>;
  jobs: Array<{ provider: string; state: string; n: number }>;
  events: Record<string, number>;
  deferredClasses: Record<string, number>;
  policy: { cuts: number; raises: number; breaker: string[]; suspensions: number; lastRates: Record<string, string> };
  /** Blocks the providers imposed on the run's IPs, and the IP-milliseconds they covered. */
  blocks: { count: number; blockedMs: number; list: string[] };
}

export interface ShapedReport {
  messages: number;
  deliverable: number;
  budgetMs: number;
  capMs: number;
  runs: Partial<Record<Mode, ShapedRun>>;
}

/** The workload: recipient n's address, deterministic across runs (same seed, same order). */
function recipients(count: number): string[] {
  const slots = (Object.keys(PROVIDERS) as SimProviderName[]).flatMap((p) => Array.from({ length: PROVIDERS[p].share }, () => p));
  const random = seeded(7);
  return Array.from({ length: count }, (_, i) => {
    const provider = slots[Math.floor(random() * slots.length)];
    const domains = DOMAINS[provider];
    const local = i % UNKNOWN_EVERY === UNKNOWN_EVERY - 1 ? `unknown${i}` : `c${i}`;
    return `${local}@${domains[i % domains.length]}`;
  });
}

function simConfig(): SimChildConfig {
  const providers: SimChildConfig['providers'] = {};
  for (const [name, p] of Object.entries(PROVIDERS) as Array<[SimProviderName, (typeof PROVIDERS)['gmail']]>) {
    // No per-domain limit: one sender domain, and the budget is what the per-IP limits allow.
    const perIp = { limit: (p.sim.perIpPerSec * WINDOW_MS) / 1000, windowMs: WINDOW_MS };
    providers[name] = { domains: DOMAINS[name], reputation: { perIp, compress: TIME_COMPRESSION }, maxConnections: p.sim.maxConnections, deferRate: p.sim.deferRate };
  }
  return { providers, seed: 42 };
}

/** The operator's provider table (a shaping file's content): per-IP and per-pool rates. */
function shapingTable() {
  // The providers' connection caps are published (KumoMTA: Google at most 5): the operator splits
  // each over the IPs. Their rates it knows only roughly (PROVIDERS); AIMD finds the rest.
  const rates = (p: SimProviderName) => ({
    ratePerIp: `${PROVIDERS[p].tablePerIpPerMin}/min`,
    ratePerPool: `${PROVIDERS[p].tablePerIpPerMin * IPS.length}/min`,
    maxConnectionsPerIp: Math.floor(PROVIDERS[p].sim.maxConnections / IPS.length),
  });
  return {
    default: rates('other'),
    providers: Object.fromEntries((['gmail', 'microsoft', 'yahoo'] as const).map((p) => [p, { shaping: rates(p) }])),
  };
}

async function post(target: EdgeTarget, path: string, body: unknown) {
  const res = await fetch(`${target.urls[0]}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}`);
}

export function emptyCounts(): Counts {
  return { attempts: 0, delivered: 0, duplicates: 0, bounced: 0, throttled: 0, refused: 0, deferred: 0, blocked: 0 };
}

/** What the providers saw in [t0, t0 + budget): every transaction is one attempt. */
function countRows(rows: SimRow[], from: number, to: number) {
  const total = emptyCounts();
  const byProvider: Record<string, Counts> = {};
  const seen = new Set<string>();
  for (const [provider, kind, at, rcpt] of rows) {
    if (at < from || at >= to) continue;
    const c = (byProvider[provider] ??= emptyCounts());
    for (const x of [total, c]) {
      x.attempts++;
      if (kind === 'accepted') {
        if (seen.has(rcpt!)) x.duplicates++;
        else x.delivered++;
      } else if (kind === 'unknown_user') x.bounced++;
      else if (kind === 'throttled') x.throttled++;
      else if (kind === 'refused_connection') x.refused++;
      else if (kind === 'deferred') x.deferred++;
      else if (kind === 'blocked') x.blocked++;
    }
    if (kind === 'accepted') seen.add(rcpt!);
  }
  return { total, byProvider };
}

async function runOnce(mode: Mode, o: ShapedOptions, to: string[], budgetMs: number, capMs: number): Promise<ShapedRun> {
  const dataDir = join(o.dir, `shaped-${mode}`);
  mkdirSync(dataDir, { recursive: true });
  const sim = spawnTs('provider-sim.ts', { env: { BENCH_SIM: JSON.stringify(simConfig()) } });
  let platform: ReturnType<typeof spawnTs> | null = null;
  try {
    const { routes } = await nextMessage<{ routes: ShapedPlatformConfig['node']['routes'] }>(sim, 'ready', 30_000);
    const cfg: ShapedPlatformConfig = {
      dataDir,
      edgeEnv: EDGE_ENV,
      shaper: mode === 'shaped' ? { table: shapingTable(), aimd: AIMD, breaker: BREAKER } : null,
      node: { routes, ips: IPS, ...NODE },
    };
    platform = spawnTs('shaped-platform.ts', { env: { BENCH_SHAPED: JSON.stringify(cfg) } });
    const ready = await nextMessage<{ url: string; apiKey: string }>(platform, 'ready', 60_000);
    const target: EdgeTarget = { label: mode, urls: [ready.url], apiKey: ready.apiKey };
    await registerDomain(target, FROM_DOMAIN, 'rsa-sha256');

    const load = loadavg()[0];
    o.log(`shaped scenario, ${mode}: ${to.length} messages, budget ${budgetMs / 1000} s, run until done or ${capMs / 1000} s`);
    const t0 = Date.now();
    for (let start = 0; start < to.length; start += 1000) {
      const messages = to.slice(start, start + 1000).map((rcpt, k) => ({ ...benchMessage(start + k, FROM_DOMAIN, 'x', mode), to: rcpt, lane: 'lifecycle' }));
      await post(target, '/v1/messages/batch', { messages });
    }
    const queuedMs = Date.now() - t0;
    let completeMs: number | null = null;
    while (Date.now() - t0 < capMs) {
      sim.send({ type: 'progress' });
      const { final } = await nextMessage<{ final: number }>(sim, 'progress', 10_000);
      if (final >= to.length) {
        completeMs = Date.now() - t0;
        break;
      }
      await sleep(250);
    }
    platform.send({ type: 'stats' });
    const stats = await nextMessage<any>(platform, 'stats', 30_000);
    sim.send({ type: 'events' });
    const { rows, peak, blocks } = await nextMessage<{ rows: SimRow[]; peak: Record<string, number>; blocks: SimBlock[] }>(sim, 'events', 30_000);
    const runEnd = Date.now();
    // Completion to the millisecond: the last final answer, when there was one for everyone.
    if (completeMs !== null) completeMs = Math.max(...rows.filter((r) => r[1] === 'accepted' || r[1] === 'unknown_user').map((r) => r[2])) - t0;
    const { total, byProvider } = countRows(rows, t0, Infinity);
    const atBudget = countRows(rows, t0, t0 + budgetMs).total;
    const policy = stats.policy as Array<{ scope: string; key: string; type: string; from: string | null; to: string | null; reason: string; at: number }>;
    const lastRates: Record<string, string> = {};
    for (const e of policy) if (e.type === 'rate' && e.to) lastRates[e.key] = e.to;
    return {
      mode,
      load,
      queuedMs,
      completeMs,
      total,
      byProvider,
      atBudget,
      peakConnections: peak,
      jobs: stats.jobs,
      events: stats.events,
      deferredClasses: stats.deferredClasses,
      policy: {
        cuts: policy.filter((e) => e.type === 'rate' && /throttle/.test(e.reason)).length,
        raises: policy.filter((e) => e.type === 'rate' && !/throttle/.test(e.reason)).length,
        breaker: policy.filter((e) => e.type === 'breaker').map((e) => `${((e.at - t0) / 1000).toFixed(1)}s ${e.scope} ${e.key} ${e.from}→${e.to}`),
        suspensions: policy.filter((e) => e.type === 'suspend').length,
        lastRates,
      },
      blocks: {
        count: blocks.length,
        // One IP blocked by two providers is two blocks.
        blockedMs: blockedMs(blocks.map((b) => ({ ...b, ip: `${b.provider}/${b.ip}` })), t0, runEnd),
        list: blocks.map((b) => `${b.provider} ${b.ip} at ${((b.from - t0) / 1000).toFixed(1)}s for ${((b.until - b.from) / 1000).toFixed(0)}s (${b.cause})`),
      },
    };
  } finally {
    if (platform) await stopChild(platform, 15_000);
    await stopChild(sim, 15_000);
  }
}

/**
 * The budget is the time the providers' own limits need for this workload: the slowest
 * provider's share at its full rate from both IPs, which nobody can beat, with BUDGET_SLACK. The
 * delivered share at that moment says how close a run came.
 */
function budgetFor(to: string[]): number {
  const perProvider = new Map<SimProviderName, number>();
  for (const rcpt of to) {
    const domain = rcpt.slice(rcpt.indexOf('@') + 1);
    const p = (Object.keys(DOMAINS) as SimProviderName[]).find((k) => DOMAINS[k].includes(domain))!;
    perProvider.set(p, (perProvider.get(p) ?? 0) + 1);
  }
  const seconds = Math.max(...[...perProvider].map(([p, n]) => n / (PROVIDERS[p].sim.perIpPerSec * IPS.length)));
  return Math.ceil(BUDGET_SLACK * seconds) * 1000;
}
export async function phaseShaped(o: ShapedOptions): Promise<ShapedReport> {
  const messages = o.quick ? 1_000 : 3_000;
  const to = recipients(messages);
  const budgetMs = budgetFor(to);
  const capMs = CAP * budgetMs;
  const report: ShapedReport = { messages, deliverable: to.filter((r) => !r.startsWith('unknown')).length, budgetMs, capMs, runs: {} };
  for (const mode of ['naive', 'shaped'] as const) {
    try {
      report.runs[mode] = await runOnce(mode, o, to, budgetMs, capMs);
    } catch (err) {
      report.runs[mode] = { mode, error: ((err as Error).message ?? String(err)).split('\n')[0].slice(0, 300) } as ShapedRun;
    }
  }
  return report;
}
