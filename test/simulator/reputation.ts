/**
 * How a mailbox provider judges a sender, as a pure mechanism: no clock (every call takes `now`),
 * no I/O, no randomness. The simulator's SMTP servers (provider-sim.ts) ask it at RCPT what to
 * answer; the policy it runs is data, one record per provider (behaviours.ts).
 *
 * What it keeps:
 * - per source IP and per sender domain, the accepts in a sliding window (the rates);
 * - per source IP, the throttle replies it had to send ("strikes": over the rate, or a
 *   connection over the provider's cap) and, once a sender has run
 *   into the limit `escalateAfter` times in a strike window, a hold: every attempt is throttled
 *   until it ends, and each one made anyway extends it — the throttle lasts longer the more it
 *   is ignored, and the next hold is longer than the last;
 * - per (source IP, sender domain), a reputation score in [0, 1] that starts at 1, loses a
 *   little per strike, more per attempt made during a hold and per complaint, and recovers
 *   slowly (`recoverPerMin`); below `tarpitBelow` every answer is delayed, below `blockBelow`
 *   the IP is blocked for `blockMs` (every RCPT gets the block reply) and comes back with the
 *   score at `afterBlock`.
 * A sender that stays under the rate never loses score; one that backs off after a throttle
 * loses a little and gets it back.
 */

export interface WindowLimit {
  /** Accepts allowed in any `windowMs`. */
  limit: number;
  windowMs: number;
}

export interface ReputationPolicy {
  perIp: WindowLimit;
  /** The sender domain's rate over every source IP; none: no per-domain limit. */
  perDomain?: WindowLimit;
  /** Throttle replies (per IP) within `strikeWindowMs` that turn into a hold. */
  escalateAfter: number;
  strikeWindowMs: number;
  /** The first hold; each later hold of the same IP is `holdGrowth` times the previous one. */
  holdMs: number;
  holdGrowth: number;
  maxHoldMs: number;
  /** What an attempt during a hold adds to it. */
  holdExtendMs: number;
  /** Score lost per throttle reply, per attempt during a hold, per complaint. */
  strikePenalty: number;
  ignoredPenalty: number;
  complaintPenalty: number;
  /** Score regained per minute without new penalties (slow, as real reputations are). */
  recoverPerMin: number;
  tarpitBelow: number;
  tarpitMs: number;
  blockBelow: number;
  blockMs: number;
  /** The score an IP's pairs restart from when its block lifts. */
  afterBlock: number;
}

export type Verdict =
  | { kind: 'accept'; delayMs: number }
  /** `scope` says whose rate it was: the IP's, the sender domain's, or a hold on the IP. */
  | { kind: 'throttle'; scope: 'ip' | 'domain' | 'hold'; delayMs: number }
  | { kind: 'block'; delayMs: number; until: number };

export interface BlockPeriod {
  ip: string;
  /** The sender domain whose score crossed the threshold. */
  domain: string;
  from: number;
  until: number;
  cause: 'ignored_throttles' | 'complaints';
}

interface IpState {
  accepts: number[];
  strikes: number[];
  holdUntil: number;
  lastHoldMs: number;
  blockedUntil: number;
}

interface Score {
  value: number;
  at: number;
}

/** Drops entries older than the window from the front of a sorted list of times. */
function prune(times: number[], now: number, windowMs: number): number[] {
  let i = 0;
  while (i < times.length && times[i] <= now - windowMs) i++;
  if (i > 0) times.splice(0, i);
  return times;
}

export class ReputationBook {
  private readonly ips = new Map<string, IpState>();
  private readonly domains = new Map<string, number[]>();
  private readonly scores = new Map<string, Score>();
  /** Every block this provider imposed, in order. */
  readonly blocks: BlockPeriod[] = [];

  constructor(readonly policy: ReputationPolicy) {}

  private ip(ip: string): IpState {
    let s = this.ips.get(ip);
    if (!s) this.ips.set(ip, (s = { accepts: [], strikes: [], holdUntil: 0, lastHoldMs: 0, blockedUntil: 0 }));
    return s;
  }

  /** The (IP, sender domain) score at `now`, recovered since it was last touched. */
  score(ip: string, domain: string, now: number): number {
    const key = `${ip}\n${domain.toLowerCase()}`;
    const s = this.scores.get(key);
    if (!s) return 1;
    // Set ahead by a block: no recovery before it lifts.
    if (s.at >= now) return s.value;
    const value = Math.min(1, s.value + (Math.max(0, now - s.at) / 60_000) * this.policy.recoverPerMin);
    this.scores.set(key, { value, at: now });
    return value;
  }

  private penalise(ip: string, domain: string, now: number, by: number): number {
    const value = Math.max(0, this.score(ip, domain, now) - by);
    this.scores.set(`${ip}\n${domain.toLowerCase()}`, { value, at: now });
    return value;
  }

  private delay(score: number): number {
    return score < this.policy.tarpitBelow ? this.policy.tarpitMs : 0;
  }

  private block(ip: string, domain: string, now: number, cause: BlockPeriod['cause']): Verdict {
    const s = this.ip(ip);
    s.blockedUntil = now + this.policy.blockMs;
    s.holdUntil = 0;
    s.strikes = [];
    this.blocks.push({ ip, domain: domain.toLowerCase(), from: now, until: s.blockedUntil, cause });
    // When it lifts, every pair on the IP starts again from afterBlock.
    for (const key of this.scores.keys()) if (key.startsWith(`${ip}\n`)) this.scores.set(key, { value: this.policy.afterBlock, at: s.blockedUntil });
    return { kind: 'block', delayMs: this.policy.tarpitMs, until: s.blockedUntil };
  }

  isBlocked(ip: string, now: number): boolean {
    return this.ip(ip).blockedUntil > now;
  }

  /** What to answer one RCPT from `ip` for mail from `domain`; an accept takes its rate slots. */
  decide(ip: string, domain: string, now: number): Verdict {
    const p = this.policy;
    const s = this.ip(ip);
    if (s.blockedUntil > now) return { kind: 'block', delayMs: p.tarpitMs, until: s.blockedUntil };
    if (s.holdUntil > now) {
      // Sent while told to wait: the hold grows and the reputation drops.
      s.holdUntil = Math.min(s.holdUntil + p.holdExtendMs, now + p.maxHoldMs);
      const score = this.penalise(ip, domain, now, p.ignoredPenalty);
      if (score < p.blockBelow) return this.block(ip, domain, now, 'ignored_throttles');
      return { kind: 'throttle', scope: 'hold', delayMs: this.delay(score) };
    }
    const overIp = prune(s.accepts, now, p.perIp.windowMs).length >= p.perIp.limit;
    const domainTimes = p.perDomain ? this.domainTimes(domain, now) : null;
    const overDomain = domainTimes !== null && domainTimes.length >= p.perDomain!.limit;
    if (overIp || overDomain) {
      const strikes = prune(s.strikes, now, p.strikeWindowMs);
      strikes.push(now);
      const score = this.penalise(ip, domain, now, p.strikePenalty);
      if (score < p.blockBelow) return this.block(ip, domain, now, 'ignored_throttles');
      if (strikes.length >= p.escalateAfter) this.startHold(s, now);
      return { kind: 'throttle', scope: overIp ? 'ip' : 'domain', delayMs: this.delay(score) };
    }
    s.accepts.push(now);
    domainTimes?.push(now);
    return { kind: 'accept', delayMs: this.delay(this.score(ip, domain, now)) };
  }

  /**
   * A connection from `ip` was refused for the provider's connection cap: a throttle reply like
   * any other, so it counts as a strike (the sender domain is not known yet, so no score is lost
   * here); a sender that keeps opening connections over the cap is put on hold like one that
   * keeps sending over the rate.
   */
  connectionRefused(ip: string, now: number): void {
    const p = this.policy;
    const s = this.ip(ip);
    if (s.blockedUntil > now || s.holdUntil > now) return;
    const strikes = prune(s.strikes, now, p.strikeWindowMs);
    strikes.push(now);
    if (strikes.length >= p.escalateAfter) this.startHold(s, now);
  }

  private startHold(s: IpState, now: number): void {
    s.lastHoldMs = s.lastHoldMs === 0 ? this.policy.holdMs : Math.min(this.policy.maxHoldMs, s.lastHoldMs * this.policy.holdGrowth);
    s.holdUntil = now + s.lastHoldMs;
    s.strikes = [];
  }

  private domainTimes(domain: string, now: number): number[] {
    const key = domain.toLowerCase();
    let t = this.domains.get(key);
    if (!t) this.domains.set(key, (t = []));
    return prune(t, now, this.policy.perDomain!.windowMs);
  }

  /** A recipient reported a message from `ip` for `domain` as spam. */
  complaint(ip: string, domain: string, now: number): void {
    if (this.isBlocked(ip, now)) return;
    if (this.penalise(ip, domain, now, this.policy.complaintPenalty) < this.policy.blockBelow) this.block(ip, domain, now, 'complaints');
  }

  /** IP-milliseconds spent blocked in [from, to), overlapping blocks of one IP counted once. */
  blockedMs(from: number, to: number): number {
    return blockedMs(this.blocks, from, to);
  }
}

/** IP-milliseconds the blocks cover in [from, to); overlapping blocks of one IP count once. */
export function blockedMs(blocks: Array<Pick<BlockPeriod, 'ip' | 'from' | 'until'>>, from: number, to: number): number {
  let total = 0;
  const byIp = new Map<string, Array<Pick<BlockPeriod, 'from' | 'until'>>>();
  for (const b of blocks) byIp.set(b.ip, [...(byIp.get(b.ip) ?? []), b]);
  for (const list of byIp.values()) {
    let covered = from;
    for (const b of [...list].sort((x, y) => x.from - y.from)) {
      const start = Math.max(b.from, covered);
      const stop = Math.min(b.until, to);
      if (stop > start) total += stop - start;
      covered = Math.max(covered, Math.min(b.until, to));
    }
  }
  return total;
}
