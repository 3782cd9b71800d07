/**
 * Routing constraints (SPEC §4): send windows in the recipient's time zone, region,
 * dedicated-only pools without spillover into shared ones, IPv4-only source addresses; the
 * outreach guard-rails (small batches, daily caps, business hours, pause on complaints); and
 * recipient verification helpers (MX exists, role accounts, disposable domains).
 *
 * Time zones go through `Intl.DateTimeFormat` (IANA names), which Workers and Node both carry,
 * so this stays pure.
 */

// ---------------------------------------------------------------------------------------------
// Time zones

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface SendWindow {
  days: Weekday[];
  /** Local wall time "HH:MM", inclusive. */
  start: string;
  /** Local wall time "HH:MM", exclusive. Earlier than start means the window runs past midnight. */
  end: string;
}

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number; // 0 = Sunday
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        weekday: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new RangeError(`unknown time zone "${tz}": expected an IANA name like "Europe/Paris"`);
    }
    formatters.set(tz, f);
  }
  return f;
}

export function localTime(tz: string, at: number): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(new Date(at))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday.toLowerCase().slice(0, 3) as Weekday),
  };
}

/** Offset of the zone from UTC at an instant, in ms (Paris in winter: +3600000). */
export function zoneOffsetMs(tz: string, at: number): number {
  const l = localTime(tz, at);
  const wall = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return wall - Math.floor(at / 1000) * 1000;
}

/**
 * The instant a local wall time occurs. A wall time inside a DST gap (02:30 on a
 * spring-forward night does not exist) moves forward by the gap's length, as Temporal's
 * "compatible" disambiguation does; in a fall-back overlap, the first occurrence.
 */
export function zonedTimeToUtc(tz: string, year: number, month: number, day: number, hour: number, minute: number): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  const candidates = [...new Set([guess - zoneOffsetMs(tz, guess - 86_400_000 / 2), guess - zoneOffsetMs(tz, guess), guess - zoneOffsetMs(tz, guess + 86_400_000 / 2)])].sort((a, b) => a - b);
  const want = new Date(guess);
  const exact = candidates.filter((t) => {
    const l = localTime(tz, t);
    return l.year === want.getUTCFullYear() && l.month === want.getUTCMonth() + 1 && l.day === want.getUTCDate() && l.hour === want.getUTCHours() && l.minute === want.getUTCMinutes();
  });
  if (exact.length > 0) return exact[0];
  // In a gap: read with the offset from before the jump, which lands after it.
  return candidates[candidates.length - 1];
}

function minutes(hhmm: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new RangeError(`invalid time "${hhmm}": expected "HH:MM" (24-hour)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

export function isInWindow(window: SendWindow, tz: string, now: number): boolean {
  const l = localTime(tz, now);
  const t = l.hour * 60 + l.minute;
  const start = minutes(window.start);
  const end = minutes(window.end);
  const today = window.days.includes(WEEKDAYS[l.weekday]);
  if (start === end) return today;
  if (start < end) return today && t >= start && t < end;
  const yesterday = window.days.includes(WEEKDAYS[(l.weekday + 6) % 7]);
  return (today && t >= start) || (yesterday && t < end);
}

/** `now` if the window is open, else the next instant it opens; null if it never does. */
export function nextWindowOpen(window: SendWindow, tz: string, now: number): number | null {
  if (window.days.length === 0) return null;
  if (isInWindow(window, tz, now)) return now;
  const l = localTime(tz, now);
  const start = minutes(window.start);
  for (let i = 0; i <= 7; i++) {
    const date = new Date(Date.UTC(l.year, l.month - 1, l.day + i));
    if (!window.days.includes(WEEKDAYS[date.getUTCDay()])) continue;
    const at = zonedTimeToUtc(tz, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), Math.floor(start / 60), start % 60);
    if (at > now) return at;
  }
  return null;
}

/** The instant the next local day starts (local midnight), for daily caps. */
export function nextLocalMidnight(tz: string, now: number): number {
  const l = localTime(tz, now);
  const d = new Date(Date.UTC(l.year, l.month - 1, l.day + 1));
  return zonedTimeToUtc(tz, d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Pools and source IPs

export interface PoolInfo {
  name: string;
  /** Dedicated to one tenant (`tenantId`); shared pools carry many tenants' reputation. */
  dedicated: boolean;
  tenantId?: string | null;
  region: string;
  ips: string[];
}

export interface RoutingConstraints {
  /** Pools the policy routes to, in preference order. */
  pools?: string[];
  regions?: string[] | null;
  /** Only pools dedicated to this tenant. Implies no spillover. */
  dedicatedOnly?: boolean;
  /** When the listed pools are unavailable, shared pools may carry the mail. */
  allowSharedSpillover?: boolean;
  ipv4Only?: boolean;
}

export interface EligiblePools {
  pools: PoolInfo[];
  excluded: Array<{ pool: string; reason: string }>;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const isIPv4 = (address: string): boolean => IPV4.test(address);

export function regionAllowed(regions: string[] | null | undefined, region: string): boolean {
  return !regions || regions.length === 0 || regions.includes(region);
}

/**
 * Pools a message may leave from, in order: the policy's pools first, then (only with
 * spillover allowed and not dedicated-only) shared pools. IPs are filtered for IPv4-only; a
 * pool left without IPs is excluded with the reason.
 */
export function eligiblePools(all: PoolInfo[], c: RoutingConstraints, tenantId: string): EligiblePools {
  const excluded: EligiblePools['excluded'] = [];
  const listed = c.pools?.length ? c.pools.map((n) => all.find((p) => p.name === n)).filter((p): p is PoolInfo => !!p) : all;
  const spill = !c.dedicatedOnly && c.allowSharedSpillover && c.pools?.length ? all.filter((p) => !p.dedicated && !c.pools!.includes(p.name)) : [];
  const pools: PoolInfo[] = [];
  for (const p of [...listed, ...spill]) {
    if (c.dedicatedOnly && !(p.dedicated && p.tenantId === tenantId)) {
      excluded.push({ pool: p.name, reason: 'not dedicated to this tenant' });
      continue;
    }
    if (p.dedicated && p.tenantId && p.tenantId !== tenantId) {
      excluded.push({ pool: p.name, reason: "another tenant's dedicated pool" });
      continue;
    }
    if (!regionAllowed(c.regions, p.region)) {
      excluded.push({ pool: p.name, reason: `region ${p.region} not allowed` });
      continue;
    }
    const ips = c.ipv4Only ? p.ips.filter(isIPv4) : p.ips;
    if (ips.length === 0) {
      excluded.push({ pool: p.name, reason: c.ipv4Only ? 'no IPv4 address' : 'no addresses' });
      continue;
    }
    pools.push({ ...p, ips });
  }
  return { pools, excluded };
}

// ---------------------------------------------------------------------------------------------
// Outreach guard-rails

/** The outreach lane's daily cap is the lane's quota (`quota.dailyCap`, shared/policy/quota.ts), one shape for every lane. */
export interface OutreachGuard {
  batchSize: number;
  businessHours: SendWindow;
  /** Complaints / sent above which outreach pauses (needs `pauseMinVolume` sends to judge). */
  pauseOnComplaintRate: number;
  pauseMinVolume: number;
  /**
   * What a failed recipient check (no MX, role account, disposable domain) does at accept:
   * `reject` answers 400 naming the recipient; `flag` queues it and records the flags in its trace.
   */
  verification: 'reject' | 'flag';
}

export const DEFAULT_OUTREACH_GUARD: OutreachGuard = {
  // Seed article: "Early campaigns start with hundreds, not tens of thousands".
  batchSize: 25,
  businessHours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' },
  pauseOnComplaintRate: 0.001,
  pauseMinVolume: 100,
  verification: 'reject',
};

export interface OutreachCheck {
  allowed: number;
  paused: boolean;
  reason: string | null;
  /** When to ask again, if nothing is allowed now. */
  retryAt: number | null;
}

export function checkOutreach(
  guard: OutreachGuard,
  input: { requested: number; sentToday: number; dailyCap: number | null; tz: string; now: number; recent?: { sent: number; complained: number } },
): OutreachCheck {
  const { recent, tz, now } = input;
  const dailyCap = input.dailyCap ?? Number.POSITIVE_INFINITY;
  if (recent && recent.sent >= guard.pauseMinVolume && recent.complained / recent.sent > guard.pauseOnComplaintRate) {
    return { allowed: 0, paused: true, reason: `complaint rate ${((recent.complained / recent.sent) * 100).toFixed(2)}% above ${(guard.pauseOnComplaintRate * 100).toFixed(2)}%: paused`, retryAt: null };
  }
  if (input.sentToday >= dailyCap) {
    return { allowed: 0, paused: false, reason: `daily cap ${dailyCap} reached`, retryAt: nextWindowOpen(guard.businessHours, tz, nextLocalMidnight(tz, now)) };
  }
  if (!isInWindow(guard.businessHours, tz, now)) {
    return { allowed: 0, paused: false, reason: 'outside business hours in the recipient time zone', retryAt: nextWindowOpen(guard.businessHours, tz, now) };
  }
  const allowed = Math.max(0, Math.min(input.requested, guard.batchSize, dailyCap - input.sentToday));
  return { allowed, paused: false, reason: null, retryAt: null };
}

// ---------------------------------------------------------------------------------------------
// Recipient verification

/** Local parts that reach a function or a team, not a person who opted in. */
export const ROLE_ACCOUNTS: ReadonlySet<string> = new Set([
  'abuse', 'accounts', 'admin', 'administrator', 'billing', 'careers', 'contact', 'do-not-reply', 'donotreply',
  'enquiries', 'help', 'hello', 'hostmaster', 'hr', 'info', 'inquiries', 'jobs', 'legal', 'list', 'mailer-daemon',
  'marketing', 'media', 'newsletter', 'no-reply', 'noreply', 'office', 'postmaster', 'press', 'privacy', 'root',
  'sales', 'security', 'support', 'team', 'webmaster',
]);

/** Common disposable-address domains; a starting list, operators add theirs. */
export const DISPOSABLE_DOMAINS: ReadonlySet<string> = new Set([
  '10minutemail.com', 'discard.email', 'dispostable.com', 'emailondeck.com', 'fakeinbox.com', 'getairmail.com',
  'getnada.com', 'guerrillamail.com', 'guerrillamail.net', 'guerrillamail.org', 'guerrillamailblock.com', 'grr.la',
  'mailcatch.com', 'maildrop.cc', 'mailinator.com', 'mailnesia.com', 'mintemail.com', 'mohmal.com', 'moakt.com',
  'mytemp.email', 'sharklasers.com', 'spamgourmet.com', 'temp-mail.org', 'tempail.com', 'tempmail.com',
  'tempmailo.com', 'tempr.email', 'throwawaymail.com', 'trash-mail.com', 'trashmail.com', 'yopmail.com',
]);

export type RecipientFlag = 'invalid_syntax' | 'no_mx' | 'mx_unknown' | 'role_account' | 'disposable';

export interface VerifyOptions {
  rejectRoleAccounts?: boolean;
  rejectDisposable?: boolean;
  extraDisposable?: Iterable<string>;
}

export interface Verification {
  ok: boolean;
  flags: RecipientFlag[];
  reason: string | null;
}

const REASONS: Record<RecipientFlag, string> = {
  invalid_syntax: 'address is not a valid mailbox',
  no_mx: 'recipient domain accepts no mail (no MX, or a null MX per RFC 7505)',
  mx_unknown: 'MX lookup did not answer',
  role_account: 'role account, not a person',
  disposable: 'disposable address domain',
};

/**
 * Combine the checks for one address. `mxExists` comes from the caller's DNS lookup (true,
 * false, or null when the lookup failed); an unknown MX is flagged but not rejected.
 */
export function verifyRecipient(address: string, mxExists: boolean | null, options: VerifyOptions = {}): Verification {
  const { rejectRoleAccounts = true, rejectDisposable = true } = options;
  const at = address.lastIndexOf('@');
  const local = at > 0 ? address.slice(0, at).toLowerCase() : '';
  const domain = at > 0 ? address.slice(at + 1).toLowerCase().replace(/\.$/, '') : '';
  // RFC 5321 §4.5.3.1.1/§4.5.3.1.2: local part ≤ 64 octets, domain ≤ 255.
  if (!local || !domain || local.length > 64 || domain.length > 255 || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) || /\s/.test(local)) {
    return { ok: false, flags: ['invalid_syntax'], reason: REASONS.invalid_syntax };
  }
  const flags: RecipientFlag[] = [];
  if (mxExists === false) flags.push('no_mx');
  if (mxExists === null) flags.push('mx_unknown');
  const base = local.split('+')[0];
  if (ROLE_ACCOUNTS.has(base)) flags.push('role_account');
  const extra = options.extraDisposable ? new Set(options.extraDisposable) : null;
  if (DISPOSABLE_DOMAINS.has(domain) || extra?.has(domain)) flags.push('disposable');
  const rejecting = flags.filter((f) => f === 'no_mx' || (f === 'role_account' && rejectRoleAccounts) || (f === 'disposable' && rejectDisposable));
  return { ok: rejecting.length === 0, flags, reason: rejecting.length ? REASONS[rejecting[0]] : null };
}
