/**
 * Warm-up plans per IP / pool / sender domain (SPEC §4): daily caps by provider that grow on a
 * schedule, randomised spacing between sends, growth held or stepped back when complaints,
 * blocks or bounces rise, and the projected safe throughput that the dashboard shows.
 *
 * The seed article's targets frame the defaults: "smaller daily thresholds with randomization"
 * and "complaint rates under 0.08 percent on consumer providers for new pools".
 */
import { parseDuration } from './units.ts';

export interface WarmupLimits {
  complaintRate: number;
  /** Block replies / sent. */
  blockRate: number;
  bounceRate: number;
}

export interface WarmupPlan {
  /** Day-1 cap per provider key; `other` covers providers not listed. */
  day1: Record<string, number>;
  /** Daily growth factor when the day went well. */
  growth: number;
  /** Optional explicit caps per day (index 0 = day 1), overriding day1 × growth for a provider. */
  table?: Record<string, number[]>;
  /** The cap where warm-up ends for a provider (the provider table's rate then rules). */
  maxDaily: Record<string, number>;
  /** At or above these, the plan does not grow the next day. */
  hold: WarmupLimits;
  /** At or above these, the plan steps back `stepBackDays`. */
  stepBack: WarmupLimits;
  stepBackDays: number;
  /** Growth also needs the day's cap to have been used this much (no evidence, no growth). */
  minUtilisation: number;
  /** The day's sends are spread over this long from the day's start ("12h"). */
  spreadOver: string;
  /** Share of each gap that is random, 0..1: spacing is gap × (1 ± jitter). */
  spacingJitter: number;
}

export const DEFAULT_WARMUP: WarmupPlan = {
  day1: { gmail: 50, microsoft: 50, yahoo: 50, apple: 25, other: 100 },
  growth: 1.5,
  maxDaily: { gmail: 100_000, microsoft: 100_000, yahoo: 50_000, apple: 20_000, other: 100_000 },
  // Seed article target: complaint rate under 0.08 % for new pools.
  hold: { complaintRate: 0.0008, blockRate: 0.005, bounceRate: 0.03 },
  // 0.3 %: the complaint ceiling in Google's and Yahoo's bulk-sender rules.
  stepBack: { complaintRate: 0.003, blockRate: 0.02, bounceRate: 0.05 },
  stepBackDays: 2,
  minUtilisation: 0.5,
  spreadOver: '12h',
  spacingJitter: 0.5,
};

export interface WarmupSignals {
  sent: number;
  complained: number;
  blocked: number;
  bounced: number;
}

export interface WarmupState {
  /** Plan day per provider, 1-based. Providers not listed are on day 1. */
  days: Record<string, number>;
}

export type WarmupDecision = 'grow' | 'hold' | 'step_back' | 'complete';

const DAY_MS = 86_400_000;

const pick = (m: Record<string, number>, provider: string): number => m[provider] ?? m.other ?? 0;

/** The send cap for a provider on a plan day. */
export function dailyCap(plan: WarmupPlan, provider: string, day: number): number {
  const d = Math.max(1, Math.floor(day));
  const max = pick(plan.maxDaily, provider);
  const table = plan.table?.[provider] ?? plan.table?.other;
  if (table && table.length > 0) return Math.min(max, table[Math.min(d, table.length) - 1]);
  return Math.min(max, Math.round(pick(plan.day1, provider) * plan.growth ** (d - 1)));
}

const ratio = (n: number, sent: number) => (sent > 0 ? n / sent : 0);

function over(s: WarmupSignals, l: WarmupLimits): string | null {
  if (ratio(s.complained, s.sent) >= l.complaintRate) return `complaint rate ${pct(ratio(s.complained, s.sent))} >= ${pct(l.complaintRate)}`;
  if (ratio(s.blocked, s.sent) >= l.blockRate) return `block rate ${pct(ratio(s.blocked, s.sent))} >= ${pct(l.blockRate)}`;
  if (ratio(s.bounced, s.sent) >= l.bounceRate) return `bounce rate ${pct(ratio(s.bounced, s.sent))} >= ${pct(l.bounceRate)}`;
  return null;
}
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** What a day's signals mean for one provider's plan day. */
export function decideDay(plan: WarmupPlan, provider: string, day: number, s: WarmupSignals): { decision: WarmupDecision; nextDay: number; reason: string } {
  const back = over(s, plan.stepBack);
  if (back) return { decision: 'step_back', nextDay: Math.max(1, day - plan.stepBackDays), reason: back };
  const hold = over(s, plan.hold);
  if (hold) return { decision: 'hold', nextDay: day, reason: hold };
  const cap = dailyCap(plan, provider, day);
  if (cap >= pick(plan.maxDaily, provider)) return { decision: 'complete', nextDay: day, reason: 'maximum daily cap reached' };
  if (s.sent < cap * plan.minUtilisation) return { decision: 'hold', nextDay: day, reason: `used ${s.sent} of ${cap}: not enough evidence to grow` };
  return { decision: 'grow', nextDay: day + 1, reason: 'healthy day' };
}

export interface WarmupAdvance {
  state: WarmupState;
  decisions: Record<string, { from: number; to: number; decision: WarmupDecision; reason: string }>;
}

/** End of day: each provider's day moves by its own signals (a Yahoo complaint spike holds Yahoo only). */
export function advanceWarmup(plan: WarmupPlan, state: WarmupState, signalsByProvider: Record<string, WarmupSignals>): WarmupAdvance {
  const days = { ...state.days };
  const decisions: WarmupAdvance['decisions'] = {};
  const providers = new Set([...Object.keys(plan.day1), ...Object.keys(state.days), ...Object.keys(signalsByProvider)]);
  for (const p of providers) {
    const from = days[p] ?? 1;
    const d = decideDay(plan, p, from, signalsByProvider[p] ?? { sent: 0, complained: 0, blocked: 0, bounced: 0 });
    days[p] = d.nextDay;
    decisions[p] = { from, to: d.nextDay, decision: d.decision, reason: d.reason };
  }
  return { state: { days }, decisions };
}

export interface NextSendInput {
  plan: WarmupPlan;
  provider: string;
  day: number;
  /** Start of the sending day (epoch ms), e.g. local midnight or the plan's daily reset. */
  dayStart: number;
  sentToday: number;
  lastSendAt: number | null;
  now: number;
  random: () => number;
}

/**
 * The earliest time the next send to this provider may go: the remaining cap spread evenly
 * over what is left of `spreadOver`, each gap randomised by ± spacingJitter so sends do not
 * arrive in a machine rhythm. When the cap is used up, the next day's start.
 */
export function nextSendAt(input: NextSendInput): number {
  const { plan, provider, day, dayStart, sentToday, lastSendAt, now, random } = input;
  const cap = dailyCap(plan, provider, day);
  if (sentToday >= cap) return dayStart + DAY_MS;
  const windowEnd = dayStart + parseDuration(plan.spreadOver);
  if (sentToday === 0) return Math.max(now, dayStart);
  // Space from the last send of today; a send from an earlier day does not count.
  const anchor = lastSendAt !== null && lastSendAt >= dayStart ? lastSendAt : Math.max(now, dayStart);
  const gap = Math.max(0, windowEnd - anchor) / (cap - sentToday);
  const spacing = gap * (1 - plan.spacingJitter + 2 * plan.spacingJitter * random());
  return Math.max(now, Math.round(anchor + spacing));
}

export interface Throughput {
  perDay: number;
  perHour: number;
  decision: WarmupDecision;
  reason: string;
}

/**
 * What each provider can safely take on `day` given recent signals: the day's cap, or the
 * stepped-back day's cap when signals say step back. perHour spreads the day over `spreadOver`.
 */
export function projectedSafeThroughput(
  plan: WarmupPlan,
  day: number | Record<string, number>,
  signals: Record<string, WarmupSignals> = {},
): Record<string, Throughput> {
  const hours = parseDuration(plan.spreadOver) / 3_600_000;
  const providers = new Set([...Object.keys(plan.day1), ...Object.keys(signals), ...(typeof day === 'object' ? Object.keys(day) : [])]);
  const out: Record<string, Throughput> = {};
  for (const p of providers) {
    const d = typeof day === 'number' ? day : (day[p] ?? 1);
    const s = signals[p];
    const decided = s ? decideDay(plan, p, d, s) : { decision: 'grow' as const, nextDay: d, reason: 'no signals yet' };
    const effective = decided.decision === 'step_back' ? decided.nextDay : d;
    const perDay = dailyCap(plan, p, effective);
    out[p] = { perDay, perHour: Math.floor(perDay / hours), decision: decided.decision, reason: decided.reason };
  }
  return out;
}
