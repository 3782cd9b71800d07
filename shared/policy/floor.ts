/**
 * Operator policy is a floor: a tenant's layers may tighten the policy a lane resolves to, never
 * loosen it. Which way is "tighter" is data, one row per field of `LanePolicy`
 * (shared/policy/defaults.ts), next to its schema; `floorViolations` compares a resolved policy
 * with the floor's (the API refuses a PUT naming the field) and `clampToFloor` holds a stored
 * tenant layer to the current floor at resolution (the operator may tighten later).
 *
 * Fields with no safe direction follow one of two stated rules:
 *   `free`  — not a guard-rail: the tenant chooses (see the row's comment for why).
 *   `fixed` — a tuning knob where either way can loosen (a breaker's window, where slow start
 *             ends): only the operator sets it; a tenant's value must equal the floor's.
 */
import type { LanePolicy } from './defaults.ts';
import type { SendWindow } from './constraints.ts';
import { WEEKDAYS } from './constraints.ts';
import { parseDuration, parseRate } from './units.ts';

export type Direction =
  /** Numbers: lower is tighter. */
  | 'lower'
  /** Numbers: higher is tighter. */
  | 'higher'
  /** A cap (number or null): lower is tighter; null (no cap) is the loosest. */
  | 'lowerCap'
  /** Rate strings ("60/min"): lower is tighter; null (no cap) is the loosest. */
  | 'lowerRate'
  /** Durations ("1h"): longer is tighter. */
  | 'longer'
  /** Durations: shorter is tighter. */
  | 'shorter'
  /** Booleans: true is tighter. */
  | 'true'
  /** Booleans: false is tighter. */
  | 'false'
  /** A send window: a subset of the floor's (days and hours) is tighter; null (any time) is the loosest. */
  | 'window'
  /** A list of names (regions): a non-empty subset of the floor's is tighter; null or [] (any) is the loosest. */
  | 'subset'
  /** A guard-rail object: removing it (null) loosens; its fields follow their own rows. */
  | 'required'
  /** A record name → number: for each name the floor sets, lower is tighter. */
  | 'perKeyLower'
  /** An enumeration, tightest first. */
  | { order: readonly string[] }
  | 'free'
  | 'fixed';

/** Every leaf and guard-rail object of `LanePolicy`, by dot path (a unit test checks it covers them all). */
export const FLOOR_DIRECTIONS: Readonly<Record<string, Direction>> = {
  // Pools choose where mail leaves, not how much or how fast: routing refuses another tenant's
  // dedicated pool (eligiblePools), every pool keeps its own provider budgets, breakers and
  // warm-up, and a tenant's dedicated pools are named for it, so no operator list could hold them.
  pools: 'free',
  dedicatedOnly: 'true',
  allowSharedSpillover: 'false',
  ipv4Only: 'true',
  regions: 'subset',
  sendWindow: 'window',
  tenantRate: 'lowerRate',
  senderDomainRate: 'lowerRate',

  // Breakers: trip on less evidence and lower rates, stay open and ramp back longer.
  'breaker.window': 'fixed',
  'breaker.bucket': 'fixed',
  'breaker.minVolume': 'lower',
  'breaker.slowStartOn.complaintRate': 'lower',
  'breaker.slowStartOn.bounceRate': 'lower',
  'breaker.slowStartOn.blocks': 'lower',
  'breaker.openOn.complaintRate': 'lower',
  'breaker.openOn.bounceRate': 'lower',
  'breaker.openOn.blocks': 'lower',
  'breaker.coolDown': 'longer',
  'breaker.slowStartInterval': 'longer',
  'breaker.floor': 'lowerRate',
  // Where slow start ends: lower ends it sooner, higher keeps a tripped pool slow for longer but
  // then ramps higher; neither way is safe for a tenant to choose.
  'breaker.full': 'fixed',

  // AIMD: lower rates, harder and more frequent cuts, slower increases.
  'aimd.floor': 'lowerRate',
  'aimd.ceiling': 'lowerRate',
  'aimd.start': 'lowerRate',
  'aimd.decreaseFactor': 'lower',
  'aimd.increase': 'lowerRate',
  'aimd.acceptsPerIncrease': 'higher',
  'aimd.increaseInterval': 'longer',
  'aimd.decreaseHoldoff': 'shorter',

  // Warm-up: on, starting lower, growing slower, holding and stepping back sooner.
  'warmup.enabled': 'true',
  'warmup.plan.day1': 'perKeyLower',
  'warmup.plan.growth': 'lower',
  // Explicit per-day caps replace day1 × growth; a tenant's table could outgrow the floor's plan.
  'warmup.plan.table': 'fixed',
  // Where warm-up ends and the provider rate takes over: either way can loosen.
  'warmup.plan.maxDaily': 'fixed',
  'warmup.plan.hold.complaintRate': 'lower',
  'warmup.plan.hold.blockRate': 'lower',
  'warmup.plan.hold.bounceRate': 'lower',
  'warmup.plan.stepBack.complaintRate': 'lower',
  'warmup.plan.stepBack.blockRate': 'lower',
  'warmup.plan.stepBack.bounceRate': 'lower',
  'warmup.plan.stepBackDays': 'higher',
  'warmup.plan.minUtilisation': 'higher',
  'warmup.plan.spreadOver': 'longer',
  // Randomness in the spacing only, not volume or pace: the tenant chooses.
  'warmup.plan.spacingJitter': 'free',

  // Outreach guard-rails.
  outreach: 'required',
  'outreach.batchSize': 'lower',
  'outreach.businessHours': 'window',
  'outreach.pauseOnComplaintRate': 'lower',
  'outreach.pauseMinVolume': 'lower',
  'outreach.verification': { order: ['reject', 'flag'] },

  // Quota guards (shared/policy/quota.ts): lower caps, holds on less volume.
  'quota.dailyCap': 'lowerCap',
  'quota.domainDailyCap': 'lowerCap',
  // Where the tenant's day starts: its own business, it moves no cap.
  'quota.timeZone': 'free',
  'quota.rogue': 'required',
  'quota.rogue.multiple': 'lower',
  'quota.rogue.minVolume': 'lower',

  // Tracking (SPEC §7): opens and clicks are the sender's choice, not a delivery guard-rail; tracking
  // first touches of outreach is what seed 001 advises against, so off is tighter.
  'tracking.opens': 'free',
  'tracking.clicks': 'free',
  'tracking.firstTouch': 'false',
};

export interface FloorViolation {
  /** Dot path in the lane policy, e.g. "outreach.dailyCap". */
  path: string;
  floor: unknown;
  value: unknown;
  /** The operator's value and the direction a tenant may move it. */
  reason: string;
}

const json = (x: unknown) => (x === undefined ? 'unset' : JSON.stringify(x));

/** Minutes of the week a window covers (null: all of them). */
function windowMinutes(w: SendWindow | null): Uint8Array {
  const set = new Uint8Array(7 * 1440);
  if (!w) return set.fill(1);
  const m = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const start = m(w.start);
  const end = m(w.end);
  const mark = (day: number, from: number, to: number) => set.fill(1, (day % 7) * 1440 + from, (day % 7) * 1440 + to);
  for (const name of w.days) {
    const day = WEEKDAYS.indexOf(name);
    if (start === end) mark(day, 0, 1440);
    else if (start < end) mark(day, start, end);
    else (mark(day, start, 1440), mark(day + 1, 0, end));
  }
  return set;
}

export function windowWithin(inner: SendWindow | null, outer: SendWindow | null): boolean {
  if (!outer) return true;
  if (!inner) return false;
  const a = windowMinutes(inner);
  const b = windowMinutes(outer);
  return a.every((x, i) => !x || b[i] === 1);
}

/**
 * Whether `value` is at least as tight as `floor` along `direction`. Values are as resolved
 * (already validated), so rates and durations parse.
 */
export function isWithinFloor(direction: Direction, value: unknown, floor: unknown): boolean {
  if (typeof direction === 'object') return direction.order.indexOf(value as string) <= direction.order.indexOf(floor as string);
  switch (direction) {
    case 'free':
      return true;
    case 'fixed':
      return JSON.stringify(value) === JSON.stringify(floor);
    case 'lower':
      return (value as number) <= (floor as number);
    case 'higher':
      return (value as number) >= (floor as number);
    case 'lowerCap':
      if (floor === null || floor === undefined) return true;
      return value !== null && value !== undefined && (value as number) <= (floor as number);
    case 'lowerRate':
      if (floor === null || floor === undefined) return true;
      return value !== null && value !== undefined && parseRate(value as string) <= parseRate(floor as string);
    case 'longer':
      return parseDuration(value as string) >= parseDuration(floor as string);
    case 'shorter':
      return parseDuration(value as string) <= parseDuration(floor as string);
    case 'true':
      return value === true || floor !== true;
    case 'false':
      return value === false || floor !== false;
    case 'window':
      return windowWithin((value ?? null) as SendWindow | null, (floor ?? null) as SendWindow | null);
    case 'subset': {
      const f = floor as string[] | null;
      if (!f || f.length === 0) return true;
      const v = value as string[] | null;
      return !!v && v.length > 0 && v.every((x) => f.includes(x));
    }
    case 'required':
      return (floor ?? null) === null || (value ?? null) !== null;
    case 'perKeyLower': {
      const f = (floor ?? {}) as Record<string, number>;
      const v = (value ?? {}) as Record<string, number>;
      return Object.entries(f).every(([k, cap]) => v[k] === undefined || v[k] <= cap);
    }
  }
}

const ALLOWED: Record<Exclude<Direction, object>, string> = {
  free: 'any value',
  fixed: 'only the operator sets it',
  lower: 'a tenant may only lower it',
  higher: 'a tenant may only raise it',
  lowerCap: 'a tenant may only lower it (null, no cap, is looser)',
  lowerRate: 'a tenant may only lower it (null, no cap, is looser)',
  longer: 'a tenant may only lengthen it',
  shorter: 'a tenant may only shorten it',
  true: 'a tenant may not switch it off',
  false: 'a tenant may not switch it on',
  window: 'a tenant may only narrow it (fewer days or hours inside it; null, any time, is looser)',
  subset: 'a tenant may only narrow it to some of those (null or [], any, is looser)',
  required: 'a tenant may tighten these guard-rails, never remove them (null)',
  perKeyLower: 'a tenant may only lower each of those',
};

function reasonFor(path: string, direction: Direction, floor: unknown): string {
  const allowed = typeof direction === 'object' ? `a tenant may only move it towards ${json(direction.order[0])} (tightest first: ${direction.order.join(', ')})` : ALLOWED[direction];
  return `${path}: the operator's policy is a floor: ${json(floor)} there; ${allowed}`;
}

const get = (o: unknown, path: string[]): unknown => path.reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);

/**
 * Rows in order, parents before children; a child is only judged where both the policy and the
 * floor carry its parent (a lane with no outreach floor leaves a tenant's outreach block alone,
 * and a removed guard-rail is reported once, at the object).
 */
const ROWS = Object.entries(FLOOR_DIRECTIONS).map(([path, direction]) => ({ path, keys: path.split('.'), direction }));

export function floorViolations(policy: LanePolicy, floor: LanePolicy): FloorViolation[] {
  const out: FloorViolation[] = [];
  for (const { path, keys, direction } of ROWS) {
    const parents = keys.slice(0, -1);
    if (parents.some((_, i) => (get(floor, keys.slice(0, i + 1)) ?? null) === null || (get(policy, keys.slice(0, i + 1)) ?? null) === null)) continue;
    const value = get(policy, keys);
    const f = get(floor, keys);
    if (!isWithinFloor(direction, value, f)) out.push({ path, floor: f, value, reason: reasonFor(path, direction, f) });
  }
  return out;
}

/**
 * The policy held to the floor: each field looser than the floor's takes the floor's value (a
 * removed guard-rail comes back whole; per-key records keep the tenant's tighter keys).
 * Returns a copy and the paths it changed; the input is not touched.
 */
export function clampToFloor<P extends LanePolicy>(policy: P, floor: LanePolicy): { policy: P; clamped: string[] } {
  const violations = floorViolations(policy, floor);
  if (violations.length === 0) return { policy, clamped: [] };
  const out = structuredClone(policy) as P;
  const clamped: string[] = [];
  for (const { path } of violations) {
    const keys = path.split('.');
    // A parent clamped earlier already brought this field from the floor.
    if (clamped.some((c) => path.startsWith(`${c}.`))) continue;
    const parent = get(out, keys.slice(0, -1)) as Record<string, unknown>;
    const last = keys[keys.length - 1];
    const f = structuredClone(get(floor, keys));
    parent[last] = FLOOR_DIRECTIONS[path] === 'perKeyLower' ? { ...(parent[last] as object), ...Object.fromEntries(Object.entries(f as Record<string, number>).filter(([k, cap]) => !((parent[last] as Record<string, number>)?.[k] <= cap))) } : f;
    clamped.push(path);
  }
  return { policy: out, clamped };
}
