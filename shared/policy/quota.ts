/**
 * Quota guards (SPEC §7), pure: daily recipient caps per tenant and per sending domain in a lane,
 * counted from midnight in the tenant's time zone, and rogue-batch detection against the trailing
 * hourly pattern. The edge counts (edge/services/quotas.ts); these functions decide.
 */
import { localTime, nextLocalMidnight } from './constraints.ts';

export interface RoguePolicy {
  /** A send is rogue when the last hour's recipients would exceed this multiple of the trailing p95 per hour… */
  multiple: number;
  /** …and this many recipients in the hour, so a new tenant (no pattern yet) is not held for its first sends. */
  minVolume: number;
}

export interface QuotaPolicy {
  /** Recipients one tenant may queue per day in this lane; null: no cap. */
  dailyCap: number | null;
  /** Recipients one sending domain of the tenant may queue per day in this lane; null: no cap. */
  domainDailyCap: number | null;
  /** The IANA time zone the day is counted in (the tenant's). */
  timeZone: string;
  /** Rogue-batch holds; null: never hold. */
  rogue: RoguePolicy | null;
}

export const DEFAULT_ROGUE: RoguePolicy = { multiple: 20, minVolume: 1000 };
export const DEFAULT_QUOTA: QuotaPolicy = { dailyCap: null, domainDailyCap: null, timeZone: 'UTC', rogue: DEFAULT_ROGUE };

/** Usage is counted in quarter hours: every time zone's offset is a multiple of 15 minutes. */
export const USAGE_BUCKET_MS = 15 * 60_000;
/** The pattern a send is compared with: the week before the current hour. */
export const TRAILING_MS = 7 * 24 * 3600_000;

export const bucketOf = (at: number) => Math.floor(at / USAGE_BUCKET_MS) * USAGE_BUCKET_MS;

/** Midnight today and tomorrow in a time zone: the day a daily cap counts. */
export function localDay(timeZone: string, now: number): { start: number; resetsAt: number } {
  const t = localTime(timeZone, now);
  const sinceMidnight = ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + (now % 1000);
  return { start: now - sinceMidnight, resetsAt: nextLocalMidnight(timeZone, now) };
}

/** The 95th percentile (nearest rank) of hourly counts; hours with no sends count as 0. */
export function p95(hourly: number[]): number {
  if (hourly.length === 0) return 0;
  const sorted = [...hourly].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
}

/**
 * Hourly totals over the trailing window ending at `until` (exclusive), zero-filled, from
 * quarter-hour usage buckets.
 */
export function hourlyPattern(buckets: Array<{ bucket: number; count: number }>, until: number): number[] {
  const hours = TRAILING_MS / 3600_000;
  const out = new Array<number>(hours).fill(0);
  const from = until - TRAILING_MS;
  for (const b of buckets) {
    if (b.bucket < from || b.bucket >= until) continue;
    out[Math.floor((b.bucket - from) / 3600_000)] += b.count;
  }
  return out;
}

export interface RogueVerdict {
  rogue: boolean;
  threshold: number;
  p95: number;
  /** The last hour's recipients with this send. */
  volume: number;
  reason: string;
}

export function judgeRogue(rogue: RoguePolicy, input: { trailingP95: number; lastHour: number; requested: number }): RogueVerdict {
  const threshold = Math.max(rogue.minVolume, rogue.multiple * input.trailingP95);
  const volume = input.lastHour + input.requested;
  return {
    rogue: volume > threshold,
    threshold,
    p95: input.trailingP95,
    volume,
    reason: `${volume} recipients in the last hour is over ${threshold} (${rogue.multiple} x the trailing p95 of ${input.trailingP95} per hour, at least ${rogue.minVolume})`,
  };
}
