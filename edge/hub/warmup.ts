/**
 * Warm-up enforcement where leases are granted (SPEC §4): a pool or source IP in an active
 * warm-up sends each provider at most its plan day's cap, spaced over the day with randomised
 * gaps, and its day moves by that day's signals. The decisions are the pure functions of
 * shared/policy/warmup.ts; this class keeps their state per warm-up and provider.
 *
 * Counts live in memory (one lease hub grants for its nodes) and are written back to the store
 * in batches on the hub's tick, not one write per send; a restart reloads the day, today's
 * counts and the next spacing slot. Warm-ups started or stopped elsewhere are picked up by a
 * periodic reload (or at once through `reload(now, true)` when the API says so).
 */
import type { Logger } from '../logger.ts';
import type { Store, WarmupStateUpdate } from '../ports/store.ts';
import type { WarmupProviderState, WarmupRecord } from '../domain/records.ts';
import type { PolicyEvent } from './shaping/policy-event.ts';
import { policyEvent } from '../../shared/events/index.ts';
import { advanceWarmup, dailyCap, nextSendAt, type WarmupPlan, type WarmupSignals } from '../../shared/policy/warmup.ts';
import { parseDuration } from '../../shared/policy/units.ts';

export const DAY_MS = 86_400_000;
/** How often the gate looks for warm-ups started or stopped by another instance. */
const RELOAD_EVERY_MS = 5_000;

export type WarmupStore = Pick<Store, 'listWarmups' | 'saveWarmupStates' | 'releaseHeld'>;

export interface WarmupGateOptions {
  store: WarmupStore;
  logger?: Logger;
  random?: () => number;
  /**
   * The pool's reputation health against its trailing baseline (GET /v1/stats/health): a day
   * that would grow is held instead while it is bad. Absent: the day's own signals decide alone.
   */
  poolHealth?: (pool: string, now: number) => Promise<'good' | 'watch' | 'bad'>;
}

/** Why a job may not go now under a warm-up, in the Shaper's refusal terms. */
export interface WarmupHold {
  retryAt: number;
  limit: string;
  reason: string;
}

interface Live {
  row: WarmupRecord;
  plan: WarmupPlan;
  dayStart: number;
  providers: Record<string, WarmupProviderState>;
  status: 'active' | 'complete';
  dirty: boolean;
}

const zeroSignals = (): WarmupProviderState['signals'] => ({ sent: 0, bounced: 0, blocked: 0, complained: 0 });

export function initialProviderState(dayStart: number): WarmupProviderState {
  return { day: 1, sentToday: 0, lastSendAt: null, nextAt: dayStart, signals: zeroSignals(), complete: false, lastDecision: null };
}

/** "pool transactional" / "IP 192.0.2.7": how traces and events name a warm-up's target. */
export const describeTarget = (w: { scope: string; key: string }) => (w.scope === 'ip' ? `IP ${w.key}` : `pool ${w.key}`);

export class WarmupGate {
  private readonly store: WarmupStore;
  private readonly logger?: Logger;
  private readonly random: () => number;
  private readonly live = new Map<string, Live>();
  private loading: Promise<void> | null = null;
  private lastReload = -Infinity;
  /** Refusals per (warm-up, provider) within one admit pass (same `now`): they get staggered slots. */
  private pass = { at: -1, held: new Map<string, number>() };

  constructor(opts: WarmupGateOptions) {
    this.store = opts.store;
    this.logger = opts.logger;
    this.random = opts.random ?? Math.random;
    this.poolHealth = opts.poolHealth;
  }

  private readonly poolHealth: WarmupGateOptions['poolHealth'];

  /** The warm-up's pool health; 'good' when unknown (no hook, or the read failed: the tick must go on). */
  private async healthOf(w: Live, now: number): Promise<'good' | 'watch' | 'bad'> {
    const pool = w.row.pool ?? (w.row.scope === 'pool' ? w.row.key : null);
    if (!this.poolHealth || !pool) return 'good';
    return this.poolHealth(pool, now).catch((err) => {
      this.logger?.warn({ err, pool }, 'pool health not read; the warm-up day is decided on its own signals');
      return 'good' as const;
    });
  }

  /** Loads the active warm-ups once before the first admit. */
  async ensureLoaded(now: number) {
    if (this.lastReload === -Infinity) await this.reload(now, true);
  }

  /**
   * Picks up warm-ups started elsewhere and drops those no longer active in the store. Known
   * warm-ups keep their in-memory counts: the store's copy is older by up to one tick.
   */
  async reload(now: number, force = false) {
    if (!force && now - this.lastReload < RELOAD_EVERY_MS) return;
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        const rows = await this.store.listWarmups({ status: 'active' });
        const ids = new Set(rows.map((r) => r.id));
        for (const id of this.live.keys()) if (!ids.has(id)) this.live.delete(id);
        for (const row of rows) if (!this.live.has(row.id)) this.live.set(row.id, this.fromRow(row));
        this.lastReload = now;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private fromRow(row: WarmupRecord): Live {
    const plan = row.plan as unknown as WarmupPlan;
    const providers: Record<string, WarmupProviderState> = {};
    for (const p of Object.keys(plan.day1)) providers[p] = initialProviderState(row.dayStart);
    for (const [p, s] of Object.entries(row.providers ?? {})) providers[p] = { ...initialProviderState(row.dayStart), ...s, signals: { ...zeroSignals(), ...s.signals } };
    return { row, plan, dayStart: row.dayStart, providers, status: 'active', dirty: false };
  }

  /** Active warm-ups that apply to a job leaving from this pool (and IP, once chosen). */
  private matching(pool: string, ip: string | null): Live[] {
    const out: Live[] = [];
    for (const w of this.live.values()) {
      if (w.status !== 'active') continue;
      if ((w.row.scope === 'pool' && w.row.key === pool) || (w.row.scope === 'ip' && ip !== null && w.row.key === ip)) out.push(w);
    }
    return out;
  }

  private provider(w: Live, provider: string): WarmupProviderState {
    let s = w.providers[provider];
    if (!s) w.providers[provider] = s = initialProviderState(w.dayStart);
    return s;
  }

  /**
   * Whether a job to `provider` may go now from `pool` (and `ip`; null checks only pool
   * warm-ups). Pure but for the stagger counter: it counts nothing, `count` does.
   */
  check(job: { pool: string; provider: string }, ip: string | null, now: number): WarmupHold | null {
    let worst: WarmupHold | null = null;
    for (const w of this.matching(job.pool, ip)) {
      const hold = this.holdFor(w, job.provider, now);
      if (hold && (!worst || hold.retryAt > worst.retryAt)) worst = hold;
    }
    return worst;
  }

  private holdFor(w: Live, provider: string, now: number): WarmupHold | null {
    const s = this.provider(w, provider);
    if (s.complete) return null;
    const cap = dailyCap(w.plan, provider, s.day);
    const tomorrow = w.dayStart + DAY_MS;
    const limit = `warmup:${w.row.key}:${provider}`;
    const hold = (retryAt: number) => ({
      retryAt,
      limit,
      reason: `warm-up day ${s.day} for ${provider} on ${describeTarget(w.row)}: ${s.sentToday} of ${cap} sent today, next at ${iso(retryAt)}${retryAt >= tomorrow ? ' (the next plan day)' : ''}`,
    });
    if (s.sentToday >= cap) return hold(tomorrow);
    const nextAt = s.nextAt ?? now;
    if (now >= nextAt) return null;
    // Jobs held in the same pass get successive slots, not all the same one: otherwise every
    // held job would be claimed again at each slot only for all but one to be held again.
    // Those beyond what is left of today's cap wait for the next plan day.
    if (this.pass.at !== now) this.pass = { at: now, held: new Map() };
    const k = this.pass.held.get(limit) ?? 0;
    this.pass.held.set(limit, k + 1);
    const remaining = cap - s.sentToday;
    const windowEnd = w.dayStart + parseDuration(w.plan.spreadOver);
    const meanGap = Math.max(0, windowEnd - nextAt) / remaining;
    return hold(k < remaining ? Math.min(tomorrow, Math.round(nextAt + k * meanGap)) : tomorrow);
  }

  /** A grant: counts the send and draws the next randomised slot for each matching warm-up. */
  count(job: { pool: string; provider: string }, ip: string | null, now: number) {
    for (const w of this.matching(job.pool, ip)) {
      const s = this.provider(w, job.provider);
      if (s.complete) continue;
      s.sentToday += 1;
      s.lastSendAt = now;
      s.nextAt = nextSendAt({ plan: w.plan, provider: job.provider, day: s.day, dayStart: w.dayStart, sentToday: s.sentToday, lastSendAt: now, now, random: this.random });
      w.dirty = true;
    }
  }

  /**
   * (provider, pool) pairs a pool warm-up holds now: left out of the claim so held jobs are not
   * leased and handed back every hub pass. IP warm-ups cannot be excluded at claim time.
   */
  excluded(now: number): Array<{ provider: string; pool: string }> {
    const out: Array<{ provider: string; pool: string }> = [];
    for (const w of this.live.values()) {
      if (w.status !== 'active' || w.row.scope !== 'pool') continue;
      for (const [provider, s] of Object.entries(w.providers)) {
        if (s.complete) continue;
        if (s.sentToday >= dailyCap(w.plan, provider, s.day) || (s.nextAt !== null && s.nextAt > now)) out.push({ provider, pool: w.row.key });
      }
    }
    return out;
  }

  /** A result's signals for today's decision (the Shaper's breaker counts, same meaning). */
  observe(job: { pool: string; provider: string }, ip: string | null, counts: { sent: number; bounced: number; blocked: number }) {
    for (const w of this.matching(job.pool, ip)) {
      const s = this.provider(w, job.provider).signals;
      s.sent += counts.sent;
      s.bounced += counts.bounced;
      s.blocked += counts.blocked;
      w.dirty = true;
    }
  }

  /**
   * The complaint signal (ARF report, feedback loop) for the warm-ups of the pool and IP the
   * complained-about message left from. Complaint intake calls this; `ip` may be unknown.
   */
  recordComplaint(pool: string, ip: string | null, provider: string) {
    for (const w of this.matching(pool, ip)) {
      this.provider(w, provider).signals.complained += 1;
      w.dirty = true;
    }
  }

  /**
   * Rolls over every warm-up whose day is over, then writes back what changed. Never throws: a
   * store that is down only delays the write (the state stays dirty) and must not stall the
   * hub's tick, which also expires leases.
   */
  async tick(now: number): Promise<PolicyEvent[]> {
    await this.reload(now).catch((err) => this.logger?.warn({ err }, 'warm-ups not reloaded; trying again on a later tick'));
    const events: PolicyEvent[] = [];
    for (const w of this.live.values()) {
      if (w.status !== 'active' || now < w.dayStart + DAY_MS) continue;
      // Days with nothing sent (the hub was down) would only have held: one decision, then
      // the day start catches up to the calendar.
      events.push(...this.rollOver(w, w.dayStart + Math.floor((now - w.dayStart) / DAY_MS) * DAY_MS, now, await this.healthOf(w, now)));
    }
    await this.flush(now).catch((err) => this.logger?.warn({ err }, 'warm-up counts not written; written on a later tick'));
    return events;
  }

  /**
   * Test and operator hook: ends the current plan day of one warm-up now (as if 24 h had
   * passed), decides it, and lets the jobs it held go again. Unknown or inactive id: [].
   */
  async advanceDay(id: string, now: number): Promise<PolicyEvent[]> {
    await this.ensureLoaded(now);
    const w = this.live.get(id);
    if (!w || w.status !== 'active') return [];
    const events = this.rollOver(w, now, now, await this.healthOf(w, now));
    await this.flush(now);
    await this.store.releaseHeld({ lastClass: 'warmup', pool: w.row.pool ?? (w.row.scope === 'pool' ? w.row.key : null) }, now);
    return events;
  }

  private rollOver(w: Live, newDayStart: number, now: number, health: 'good' | 'watch' | 'bad' = 'good'): PolicyEvent[] {
    const active = Object.entries(w.providers).filter(([, s]) => !s.complete);
    const signals: Record<string, WarmupSignals> = Object.fromEntries(active.map(([p, s]) => [p, s.signals]));
    const days = Object.fromEntries(active.map(([p, s]) => [p, s.day]));
    // Only providers still warming are decided: advanceWarmup adds plan providers it is not
    // given, so its answer is filtered back to these.
    const { decisions } = advanceWarmup(w.plan, { days }, signals);
    const events: PolicyEvent[] = [];
    for (const [provider, s] of active) {
      const decided = decisions[provider];
      // A pool whose reputation is bad against its baseline does not take more mail, however good the day looked.
      const d = health === 'bad' && decided.decision === 'grow' ? { ...decided, to: decided.from, decision: 'hold' as const, reason: 'pool reputation health is bad against its trailing baseline (GET /v1/stats/health)' } : decided;
      const capFrom = dailyCap(w.plan, provider, d.from);
      const capTo = dailyCap(w.plan, provider, d.to);
      Object.assign(s, {
        day: d.to,
        sentToday: 0,
        nextAt: newDayStart,
        signals: zeroSignals(),
        complete: d.decision === 'complete',
        lastDecision: { decision: d.decision, from: d.from, to: d.to, reason: d.reason, at: now },
      });
      events.push(
        policyEvent('warmup', {
          scope: 'warmup',
          key: w.row.id,
          from: `day ${d.from} (${capFrom}/day)`,
          to: d.decision === 'complete' ? 'complete' : `day ${d.to} (${capTo}/day)`,
          reason: `${d.decision} for ${provider} on ${describeTarget(w.row)}: ${d.reason}`,
          at: now,
          data: { warmup: w.row.id, scope: w.row.scope, target: w.row.key, pool: w.row.pool, provider, decision: d.decision, from_day: d.from, to_day: d.to, signals: signals[provider], cap_from: capFrom, cap_to: capTo },
        }),
      );
    }
    w.dayStart = newDayStart;
    w.dirty = true;
    if (Object.values(w.providers).every((s) => s.complete)) {
      w.status = 'complete';
      events.push(policyEvent('warmup', { scope: 'warmup', key: w.row.id, from: 'active', to: 'complete', reason: `warm-up of ${describeTarget(w.row)} complete: every provider reached the plan's maximum`, at: now, data: { warmup: w.row.id, scope: w.row.scope, target: w.row.key, pool: w.row.pool } }));
    }
    this.logger?.info({ warmup: w.row.id, target: w.row.key, decisions: Object.fromEntries(active.map(([p]) => [p, decisions[p].decision])) }, 'warm-up day rolled over');
    return events;
  }

  /** Writes back the warm-ups whose counts or day changed since the last write. */
  async flush(now: number) {
    const dirty = [...this.live.values()].filter((w) => w.dirty);
    if (dirty.length === 0) return;
    for (const w of dirty) w.dirty = false;
    const updates: WarmupStateUpdate[] = dirty.map((w) => ({ id: w.row.id, dayStart: w.dayStart, providers: structuredClone(w.providers), status: w.status, now }));
    try {
      await this.store.saveWarmupStates(updates);
    } catch (error) {
      // Written again on the next tick; the live counts are still right.
      for (const w of dirty) w.dirty = true;
      throw error;
    }
    for (const w of dirty) if (w.status === 'complete') this.live.delete(w.row.id);
  }

  /** The live state of the warm-ups this gate enforces, for the API. */
  snapshot() {
    return [...this.live.values()].map((w) => ({ id: w.row.id, status: w.status as string, dayStart: w.dayStart, providers: structuredClone(w.providers) }));
  }
}

const iso = (t: number) => new Date(t).toISOString();
