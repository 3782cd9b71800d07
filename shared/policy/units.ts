/**
 * Human units for policy files, the way KumoMTA's shaping files read: rates like "100/min"
 * and durations like "20m". Policy documents keep the strings (an operator reads and diffs
 * them); the functions that apply a policy convert once with these parsers.
 *
 * Pure: no I/O, runs on Node and in Workers.
 */
import * as v from 'valibot';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Milliseconds per unit. Long and short spellings are both accepted. */
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: SECOND, sec: SECOND, secs: SECOND, second: SECOND, seconds: SECOND,
  m: MINUTE, min: MINUTE, mins: MINUTE, minute: MINUTE, minutes: MINUTE,
  h: HOUR, hr: HOUR, hrs: HOUR, hour: HOUR, hours: HOUR,
  d: DAY, day: DAY, days: DAY,
};

/** Seconds per period for the denominator of a rate ("/min"). */
const RATE_PERIODS: Record<string, number> = {
  s: 1, sec: 1, second: 1,
  m: 60, min: 60, minute: 60,
  h: 3600, hr: 3600, hour: 3600,
  d: 86400, day: 86400,
};

export class PolicyUnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyUnitError';
  }
}

const DURATION_PART = /(\d+(?:\.\d+)?)\s*([a-z]+)/gy;

/**
 * "90s" → 90000, "20m" → 1200000, "1h30m" → 5400000. A bare number is refused: a policy
 * file that says `ttl = 3` is ambiguous, and guessing the unit is how outages start.
 */
export function parseDuration(value: string): number {
  const s = String(value).trim().toLowerCase();
  if (s === '') throw new PolicyUnitError(`invalid duration "${value}": empty`);
  let total = 0;
  let pos = 0;
  DURATION_PART.lastIndex = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) throw new PolicyUnitError(`invalid duration "${value}": expected e.g. "90s", "20m", "4h", "3d"`);
    const unit = DURATION_UNITS[m[2]];
    if (unit === undefined) throw new PolicyUnitError(`invalid duration "${value}": unknown unit "${m[2]}"`);
    total += Number(m[1]) * unit;
    pos = DURATION_PART.lastIndex;
    while (s[pos] === ' ') pos++;
  }
  return Math.round(total);
}

/** "100/min" → 1.6667 (per second). "0/min" is allowed: it means "send nothing". */
export function parseRate(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$/i.exec(String(value));
  if (!m) throw new PolicyUnitError(`invalid rate "${value}": expected e.g. "100/min", "2/hr", "5/s", "1000/day"`);
  const period = RATE_PERIODS[m[3].toLowerCase()];
  if (period === undefined) throw new PolicyUnitError(`invalid rate "${value}": unknown period "${m[3]}"`);
  // "10/5m" reads as 10 per 5 minutes.
  const multiple = m[2] === undefined ? 1 : Number(m[2]);
  if (multiple <= 0) throw new PolicyUnitError(`invalid rate "${value}": period must be positive`);
  return Number(m[1]) / (period * multiple);
}

/** Per-second rate → per-minute, the unit most shaping numbers are quoted in. */
export const perMinute = (ratePerSec: number): number => ratePerSec * 60;

/** 5400000 → "1h30m"; for messages and events, not for round-trips of exotic values. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < SECOND) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / SECOND) * SECOND;
  for (const [unit, size] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', SECOND]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

function valid(parse: (s: string) => number) {
  return (s: string) => {
    try {
      parse(s);
      return true;
    } catch {
      return false;
    }
  };
}

/** Valibot schemas for policy documents: the string stays a string, but must parse. */
export const DurationSchema = v.pipe(
  v.string(),
  v.check(valid(parseDuration), (issue) => `invalid duration ${issue.received}: expected e.g. "90s", "20m", "4h", "3d"`),
);
export const RateSchema = v.pipe(
  v.string(),
  v.check(valid(parseRate), (issue) => `invalid rate ${issue.received}: expected e.g. "100/min", "2/hr", "5/s", "1000/day"`),
);
/**
 * A rate the hub shapes by (a tenant's, a sender domain's, a breaker's or AIMD's): more than
 * zero. A zero rate has no next slot (the token bucket's wait is infinite, an invalid time), so
 * "send nothing" is said by pausing, not by "0/min".
 */
export const PositiveRateSchema = v.pipe(
  RateSchema,
  // An unparsable rate is RateSchema's issue; this one only speaks of zero.
  v.check((s) => !valid(parseRate)(s) || parseRate(s) > 0, (issue) => `rate ${issue.received} must be more than 0 (to stop sending, pause instead)`),
);

/** Turns valibot issues into one line per issue that names the key path. */
export function formatIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .map((issue) => {
      const path = v.getDotPath(issue) ?? '(root)';
      if (issue.type === 'strict_object' && issue.expected === 'never') return `${path}: unknown key`;
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * A threshold ("3/hr" = three times within an hour) as count and window, for automation
 * triggers, where the rate's per-second form loses the window.
 */
export function parseThreshold(value: string): { count: number; periodMs: number } {
  const perSec = parseRate(value); // validates and names the bad value
  const count = Number(/^\s*(\d+(?:\.\d+)?)/.exec(value)![1]);
  if (!(count >= 1)) throw new PolicyUnitError(`invalid threshold "${value}": count must be at least 1`);
  return { count, periodMs: Math.round((count / perSec) * 1000) };
}
