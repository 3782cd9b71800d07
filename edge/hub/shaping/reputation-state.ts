/**
 * What the shaper has learnt about reputation, per key: adaptive (AIMD) rates per (destination,
 * pool), circuit breakers per pool, sender domain and outreach pause, and source IPs suspended
 * for one provider by a block reply. Results and feedback move it (`observe`, `complaint`,
 * `bounce`), time moves the breakers (`tick`), and every change comes back as a PolicyEvent for
 * the hub to store; `restore` replays those after a restart.
 *
 * Live replies also run the provider record's automation rules (`automation` in
 * shared/policy/providers/<provider>.json, `automationFor` / `triggerFires`): `suspend_ip` keeps
 * the source IP away from the provider for the rule's duration, `set_shaping` lowers that IP's
 * rate for the provider for its duration, `pause_domain` opens the sender domain's breaker for
 * its duration, `alert` is recorded for a human. Each action is a policy event.
 */
import { onSignal, initialAimd, type AimdConfig, type AimdState } from '../../../shared/policy/aimd.ts';
import { allowedRate, forceBreaker, recordOutcome, type BreakerConfig } from '../../../shared/policy/breaker.ts';
import type { Classification } from '../../../shared/policy/classifier.ts';
import { automationFor, CEILING_FACTOR, shapingFor, triggerFires, type AutomationRule, type ShapingPolicy } from '../../../shared/policy/providers.ts';
import { parseDuration, parseRate, parseThreshold } from '../../../shared/policy/units.ts';
import type { SmtpReply } from '../../../shared/protocol.ts';
import { formatSmtpReply } from '../../../shared/smtp-reply.ts';
import type { OutreachPauseRule } from '../../ports/lease-hub.ts';
import type { WarmupGate } from '../warmup.ts';
import { BreakerBook } from './breakers.ts';
import { OutreachPause, OutreachRules } from './outreach-pause.ts';
import { domainBreakerKey, splitDomainKey, splitScopedKey, type PolicyEvent } from './policy-event.ts';
import { policyEvent } from '../../../shared/events/index.ts';

/**
 * What a budget is kept for: a named provider as a whole (its MX farm is shared by all its
 * domains), or, for `other`, the recipient domain itself — thousands of unrelated small
 * domains must not share one budget.
 */
export function destinationOf(job: { provider: string; domain: string }): string {
  return job.provider === 'other' ? `other:${job.domain}` : job.provider;
}
export const providerOfDestination = (destination: string) => destination.split(':')[0];

/**
 * How long a block reply keeps a source IP away from that provider when its class asks for a
 * suspension (`suspend_ip_for_provider`) and no automation rule of the provider says how long.
 */
const DEFAULT_SUSPEND_MS = 90 * 60_000;

/** A `set_shaping` automation in force for one (provider, source IP). */
interface IpShaping {
  until: number;
  rule: string;
  ratePerIpPerSec?: number;
  maxConnectionsPerIp?: number;
  messagesPerConnection?: number;
}

type ObservedJob = { provider: string; domain: string; pool: string; senderDomain: string; lane?: string; tenantId: string };
type Outcome = 'delivered' | 'deferred' | 'bounced';
type Signal = ReturnType<typeof signalOf>;

function signalOf(outcome: Outcome, c: Classification | null) {
  return outcome === 'delivered' ? ('accept' as const) : c?.signal ?? ('none' as const);
}

export interface ReputationOptions {
  policy: ShapingPolicy;
  aimd: AimdConfig;
  breaker: BreakerConfig;
  warmup: WarmupGate | null;
}

export class ReputationState {
  private readonly policy: ShapingPolicy;
  private readonly aimdCfg: AimdConfig;
  private readonly warmup: WarmupGate | null;
  private readonly rates = new Map<string, AimdState>();
  /** Source IPs suspended for one provider by a block reply, by `provider|ip`. */
  private readonly suspended = new Map<string, { until: number; reason: string }>();
  /** `set_shaping` automations in force, by `provider|ip`. */
  private readonly ipShaping = new Map<string, IpShaping>();
  /** When each threshold automation rule matched, by `rule|provider|ip` (an "immediate" rule keeps none). */
  private readonly automationHits = new Map<string, number[]>();
  readonly breakers: BreakerBook;
  readonly outreach: OutreachPause;

  constructor(opts: ReputationOptions) {
    this.policy = opts.policy;
    this.aimdCfg = opts.aimd;
    this.warmup = opts.warmup;
    const rules = new OutreachRules(opts.breaker);
    this.breakers = new BreakerBook(opts.breaker, rules);
    this.outreach = new OutreachPause(this.breakers, rules);
  }

  /** The provider table's rate for a destination: where AIMD starts. */
  tableRate(destination: string): number {
    return parseRate(shapingFor(providerOfDestination(destination), this.policy).ratePerPool);
  }

  /**
   * The most AIMD climbs to for a destination on sustained clean acceptance: the provider's
   * shaping `ceiling`, else CEILING_FACTOR times its table rate; never below the table rate.
   */
  ceilingRate(destination: string): number {
    const s = shapingFor(providerOfDestination(destination), this.policy);
    const start = parseRate(s.ratePerPool);
    return s.ceiling ? Math.max(start, parseRate(s.ceiling)) : start * CEILING_FACTOR;
  }

  private aimd(key: string, now: number): AimdState {
    let s = this.rates.get(key);
    if (!s) this.rates.set(key, (s = { ...initialAimd(this.aimdCfg, now), ratePerSec: this.tableRate(key.split('|')[0]) }));
    return s;
  }

  /** The rate a (provider, pool) may send at now for a tenant's sender domain: the tightest of table, AIMD and breakers. */
  rateFor(destination: string, pool: string, tenantId: string, fromDomain: string, now: number): { ratePerSec: number; limitedBy: string } {
    // The table rate is where the adaptive rate starts, not a limit of its own: a healthy receiver
    // earns more, up to the provider's ceiling (observeRate).
    const candidates: Array<[number, string]> = [
      [this.aimd(`${destination}|${pool}`, now).ratePerSec, `adaptive rate for ${destination} on pool ${pool}`],
      [this.breakers.rateLimit(`pool:${pool}`, now), `circuit breaker of pool ${pool}`],
      [this.breakers.rateLimit(domainBreakerKey(tenantId, fromDomain), now), `circuit breaker of sender domain ${fromDomain}`],
    ];
    const [ratePerSec, limitedBy] = candidates.reduce((a, b) => (b[0] < a[0] ? b : a));
    return { ratePerSec, limitedBy };
  }

  /**
   * The rate one source IP may send to a provider now: the table's `ratePerIp`, or lower while
   * a `set_shaping` automation for that IP is in force.
   */
  ipRate(provider: string, ip: string, now: number): number {
    const table = parseRate(shapingFor(provider, this.policy).ratePerIp);
    const o = this.ipShaping.get(`${provider}|${ip}`);
    if (o && o.until <= now) this.ipShaping.delete(`${provider}|${ip}`);
    return o && o.until > now && o.ratePerIpPerSec !== undefined ? Math.min(table, o.ratePerIpPerSec) : table;
  }

  isSuspended(provider: string, ip: string, now: number) {
    const s = this.suspended.get(`${provider}|${ip}`);
    if (s && s.until <= now) this.suspended.delete(`${provider}|${ip}`);
    return Boolean(s && s.until > now);
  }

  /** Feeds a result's classification into AIMD and the breakers; returns what changed. */
  observe(job: ObservedJob, outcome: Outcome, c: Classification | null, sourceIp: string | null, now: number, reply: SmtpReply | null = null): PolicyEvent[] {
    const events: PolicyEvent[] = [];
    const automated = outcome !== 'delivered' && reply ? this.automate(job, reply, sourceIp, now) : { events: [], suspended: false };
    events.push(...automated.events);
    const signal = signalOf(outcome, c);
    const rate = this.observeRate(job, signal, c, now);
    if (rate) events.push(rate);
    const counts = {
      sent: outcome === 'deferred' && signal !== 'block' ? 0 : 1,
      bounced: outcome === 'bounced' && c?.suppressRecipient ? 1 : 0,
      blocked: signal === 'block' ? 1 : 0,
    };
    this.warmup?.observe(job, sourceIp, counts);
    for (const key of [`pool:${job.pool}`, domainBreakerKey(job.tenantId, job.senderDomain)]) events.push(...this.observeBreaker(key, counts, c, now));
    if (c?.poolAction === 'suspend_ip_for_provider' && sourceIp && !automated.suspended) {
      const until = now + DEFAULT_SUSPEND_MS;
      this.suspended.set(`${job.provider}|${sourceIp}`, { until, reason: c.rule });
      events.push(policyEvent('suspend', { scope: 'provider_ip', key: `${job.provider}|${sourceIp}`, from: null, to: new Date(until).toISOString(), reason: `${c.class} reply (${c.rule})`, at: now, data: { provider: job.provider, ip: sourceIp } }));
    }
    if (counts.sent) events.push(...this.outreach.record(job, { sent: counts.sent }, now));
    return events;
  }

  /**
   * The provider's automation rules this live reply fires (record order), acted on: each action
   * for its rule's duration, each a policy event. A threshold trigger ("3/hr") counts matches
   * per (rule, provider, source IP) and fires on the one that reaches it.
   */
  private automate(job: ObservedJob, reply: SmtpReply, sourceIp: string | null, now: number): { events: PolicyEvent[]; suspended: boolean } {
    const events: PolicyEvent[] = [];
    let suspended = false;
    const line = formatSmtpReply(reply).slice(0, 300);
    for (const rule of automationFor(job.provider, reply, this.policy)) {
      if (!this.fires(rule, job.provider, sourceIp, now)) continue;
      const base = { rule: rule.id, provider: job.provider, ip: sourceIp, reply: line };
      const ipKey = `${job.provider}|${sourceIp ?? '*'}`;
      for (const action of rule.actions) {
        if (action.kind === 'suspend_ip') {
          if (!sourceIp) continue;
          const until = now + parseDuration(action.duration);
          const was = this.suspended.get(ipKey);
          if (!was || was.until < until) this.suspended.set(ipKey, { until, reason: rule.id });
          suspended = true;
          events.push(policyEvent('suspend', { scope: 'provider_ip', key: ipKey, from: null, to: new Date(until).toISOString(), reason: `automation ${rule.id} for ${action.duration} (${line})`, at: now, data: { provider: job.provider, ip: sourceIp, rule: rule.id } }));
        } else if (action.kind === 'set_shaping') {
          if (!sourceIp) continue;
          const until = now + parseDuration(action.duration);
          const { kind: _kind, duration: _duration, ...shaping } = action;
          this.ipShaping.set(ipKey, {
            until,
            rule: rule.id,
            ...(shaping.ratePerIp !== undefined ? { ratePerIpPerSec: parseRate(shaping.ratePerIp) } : {}),
            ...(shaping.maxConnectionsPerIp !== undefined ? { maxConnectionsPerIp: shaping.maxConnectionsPerIp } : {}),
            ...(shaping.messagesPerConnection !== undefined ? { messagesPerConnection: shaping.messagesPerConnection } : {}),
          });
          events.push(policyEvent('automation', { scope: 'provider_ip', key: ipKey, from: null, to: new Date(until).toISOString(), reason: `automation ${rule.id}: set_shaping for ${action.duration}`, at: now, data: { ...base, action: 'set_shaping', until, shaping } }));
        } else if (action.kind === 'pause_domain') {
          const until = now + parseDuration(action.duration);
          const key = domainBreakerKey(job.tenantId, job.senderDomain);
          const step = forceBreaker(this.breakers.get(key, now), 'open', `automation ${rule.id} (${line})`, this.breakers.configFor(key), now);
          const longer = Math.max(step.state.openUntil ?? 0, until);
          const moved = this.breakers.apply(key, { ...step, state: { ...step.state, openUntil: longer } });
          events.push(...moved.map((e) => ({ ...e, data: { ...e.data, open_until: longer } })));
          events.push(policyEvent('automation', { scope: 'domain', key: key.slice('domain:'.length), from: null, to: new Date(longer).toISOString(), reason: `automation ${rule.id}: pause_domain for ${action.duration}`, at: now, data: { ...base, action: 'pause_domain', until: longer } }));
        } else if (action.kind === 'alert') {
          events.push(policyEvent('automation', { scope: 'provider_ip', key: ipKey, from: null, to: null, reason: `automation ${rule.id}: alert: ${action.message}`, at: now, data: { ...base, action: 'alert', message: action.message } }));
        }
      }
    }
    return { events, suspended };
  }

  /** Whether a rule fires on this match; a threshold rule remembers its matches within its period. */
  private fires(rule: AutomationRule, provider: string, sourceIp: string | null, now: number): boolean {
    if (rule.trigger === 'immediate') return true;
    const key = `${rule.id}|${provider}|${sourceIp ?? '*'}`;
    const { periodMs } = parseThreshold(rule.trigger);
    const hits = (this.automationHits.get(key) ?? []).filter((t) => t > now - periodMs);
    if (triggerFires(rule.trigger, hits, now)) {
      this.automationHits.delete(key);
      return true;
    }
    this.automationHits.set(key, [...hits, now]);
    return false;
  }

  /** One AIMD step for the result's (destination, pool); the event if the rate changed. */
  private observeRate(job: ObservedJob, signal: Signal, c: Classification | null, now: number): PolicyEvent | null {
    const destination = destinationOf(job);
    const pp = `${destination}|${job.pool}`;
    // A reputation-based rate limit (Microsoft 451 4.7.650) is both: it counts as a block for the
    // breakers and asks for a slower rate, so AIMD cuts on it as on a throttle.
    const rateSignal = signal !== 'accept' && c?.poolAction === 'throttle' ? 'throttle' : signal;
    const step = onSignal(this.aimd(pp, now), rateSignal, this.aimdCfg, now);
    // Sustained clean acceptance climbs from the table's rate (additive increase) up to the
    // provider's ceiling; the first throttle cuts it (multiplicative decrease).
    const ceiling = this.ceilingRate(destination);
    if (step.state.ratePerSec > ceiling) step.state.ratePerSec = ceiling;
    if (step.change && step.change.to > ceiling) step.change.to = ceiling;
    if (step.change && step.change.to === step.change.from) step.change = null;
    this.rates.set(pp, step.state);
    if (!step.change) return null;
    return policyEvent('rate', { scope: 'provider_pool', key: pp, from: `${(step.change.from * 60).toFixed(2)}/min`, to: `${(step.change.to * 60).toFixed(2)}/min`, reason: step.change.reason === 'throttle' ? `throttle reply (${c?.rule})` : 'sustained acceptance', at: now, data: { provider: job.provider, pool: job.pool } });
  }

  /** A result counted into a pool or sender-domain breaker, which some replies also force. */
  private observeBreaker(key: string, counts: { sent: number; bounced: number; blocked: number }, c: Classification | null, now: number): PolicyEvent[] {
    const cfg = this.breakers.base;
    let b = recordOutcome(this.breakers.get(key, now), counts, cfg, now);
    if (c?.poolAction === 'slow_start' && key.startsWith('pool:') && b.state.state === 'closed') {
      const forced = forceBreaker(b.state, 'slow_start', `${c.class} reply (${c.rule})`, cfg, now);
      b = { state: forced.state, events: [...b.events, ...forced.events] };
    }
    if (c?.poolAction === 'pause_domain' && key.startsWith('domain:') && b.state.state !== 'open') {
      const forced = forceBreaker(b.state, 'open', `${c.class} reply (${c.rule})`, cfg, now);
      b = { state: forced.state, events: [...b.events, ...forced.events] };
    }
    return this.breakers.apply(key, b);
  }

  /**
   * A spam complaint for a delivered job: counted as `complained` in the breakers of its pool
   * and sender domain (complaint rate = complained / sent in the window), and for outreach mail
   * in the tenant's and the sender domain's outreach pause.
   */
  complaint(
    job: { pool: string; senderDomain: string; lane?: string; tenantId: string; provider?: string },
    now: number,
    outreach?: { tenant: OutreachPauseRule; domain: OutreachPauseRule },
  ): PolicyEvent[] {
    // A warming pool's day is judged on its complaints too (the source IP is not known here).
    if (job.provider) this.warmup?.recordComplaint(job.pool, null, job.provider);
    return [...this.recordPoolAndDomain(job, { complained: 1 }, now), ...this.outreach.record(job, { complained: 1 }, now, outreach)];
  }

  /** A bounce that arrived after delivery (a DSN): the send was counted when it was accepted. */
  bounce(job: { pool: string; senderDomain: string; tenantId: string }, now: number): PolicyEvent[] {
    return this.recordPoolAndDomain(job, { bounced: 1 }, now);
  }

  private recordPoolAndDomain(job: { pool: string; senderDomain: string; tenantId: string }, counts: { complained?: number; bounced?: number }, now: number): PolicyEvent[] {
    return [`pool:${job.pool}`, domainBreakerKey(job.tenantId, job.senderDomain)].flatMap((key) => this.breakers.record(key, counts, now));
  }

  /** Time-driven breaker moves (cool-down over, slow-start doubling). */
  tick(now: number): PolicyEvent[] {
    return this.breakers.tick(now);
  }

  /** Test and operator hook: force a breaker (e.g. pause a pool by hand); a domain's key is `<tenant>|<domain>`. */
  force(scope: 'pool' | 'domain', key: string, to: 'closed' | 'slow_start' | 'open', reason: string, now: number): PolicyEvent[] {
    return this.breakers.force(`${scope}:${key}`, to, reason, now);
  }

  snapshot(now: number) {
    const cfg = this.breakers.base;
    return {
      breakers: [...this.breakers.entries()].map(([key, b]) => {
        const [scope, name] = splitScopedKey(key);
        // A sender domain's breaker is its tenant's: both are shown, as the key reads `<tenant>|<domain>`.
        const owner = scope === 'domain' ? splitDomainKey(name) : null;
        return { scope, key: name, ...(owner ? { tenant: owner.tenantId, domain: owner.domain } : {}), state: b.state, since: new Date(b.since).toISOString(), rate_per_min: allowedRate(b, cfg) * 60, open_until: b.openUntil ? new Date(b.openUntil).toISOString() : null };
      }),
      rates: [
        ...[...this.rates].map(([key, s]) => {
          const [destination, pool] = key.split('|');
          return { provider: providerOfDestination(destination), destination, pool, rate_per_min: s.ratePerSec * 60 };
        }),
        // Per-IP rates an automation rule (set_shaping) lowered, while they last.
        ...[...this.ipShaping].filter(([, o]) => o.until > now).map(([key, o]) => {
          const [provider, ip] = key.split('|');
          return {
            provider, destination: provider, ip, rule: o.rule, until: new Date(o.until).toISOString(), rate_per_min: this.ipRate(provider, ip, now) * 60,
            ...(o.maxConnectionsPerIp !== undefined ? { max_connections_per_ip: o.maxConnectionsPerIp } : {}),
            ...(o.messagesPerConnection !== undefined ? { messages_per_connection: o.messagesPerConnection } : {}),
          };
        }),
      ],
      suspended_ips: [...this.suspended].filter(([, s]) => s.until > now).map(([key, s]) => {
        const [provider, ip] = key.split('|');
        return { provider, ip, until: new Date(s.until).toISOString(), rule: s.reason };
      }),
    };
  }

  /**
   * After a restart: the breakers, adaptive rates and IP suspensions the stored policy events
   * (newest first) say were in force. Breakers resume where their last transition left them (the
   * tick moves them on); a rate is restored only while its last change is recent enough to stand.
   */
  restore(events: Array<{ scope: string; key: string; type: string; toState: string | null; at: number; data: unknown }>, now: number) {
    const seen = new Set<string>();
    for (const e of events) {
      const id = `${e.type}|${e.scope}|${e.key}|${e.type === 'automation' ? (e.data as { action?: string } | null)?.action : ''}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const data = (e.data ?? {}) as { rate_per_min?: number; open_until?: number };
      if (e.type === 'breaker' && (e.toState === 'open' || e.toState === 'slow_start')) {
        // A domain breaker stored before breakers were per tenant names no tenant: it cannot be
        // told whose it was, and resuming it for every holder of the name is the bug it had.
        if (e.scope === 'domain' && !splitDomainKey(e.key)) continue;
        this.breakers.resume(`${e.scope}:${e.key}`, e.toState, e.at, data);
      } else if (e.type === 'rate' && e.scope === 'provider_pool' && e.toState && now - e.at < this.aimdCfg.increaseIntervalMs * 10) {
        const perMin = Number.parseFloat(e.toState);
        if (Number.isFinite(perMin)) this.rates.set(e.key, { ...this.aimd(e.key, now), ratePerSec: perMin / 60 });
      } else if (e.type === 'suspend' && e.scope === 'provider_ip' && e.toState) {
        const until = Date.parse(e.toState);
        if (until > now) this.suspended.set(e.key, { until, reason: 'restored after restart' });
      } else if (e.type === 'automation' && e.scope === 'provider_ip' && e.toState) {
        const d = (e.data ?? {}) as { action?: string; rule?: string; shaping?: { ratePerIp?: string; maxConnectionsPerIp?: number; messagesPerConnection?: number } };
        const until = Date.parse(e.toState);
        if (d.action === 'set_shaping' && until > now) {
          this.ipShaping.set(e.key, {
            until,
            rule: d.rule ?? 'restored after restart',
            ...(d.shaping?.ratePerIp ? { ratePerIpPerSec: parseRate(d.shaping.ratePerIp) } : {}),
            ...(d.shaping?.maxConnectionsPerIp !== undefined ? { maxConnectionsPerIp: d.shaping.maxConnectionsPerIp } : {}),
            ...(d.shaping?.messagesPerConnection !== undefined ? { messagesPerConnection: d.shaping.messagesPerConnection } : {}),
          });
        }
      }
    }
  }
}
