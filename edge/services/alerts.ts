/**
 * The alert evaluator (SPEC §7): on a timer (POSTLANE_ALERT_INTERVAL_MS, at most 15 s) it reads
 * the rollups, the policy events and the webhook endpoints, raises an alert when a rule trips
 * (one open alert per rule and subject: the store's unique index decides) and resolves it when
 * its condition is gone. Raising and resolving write the alert log and queue `alert.raised` /
 * `alert.resolved` for the webhook endpoints of the alert's tenant (the operator's for platform
 * alerts). Spike detection and its baseline are pure (edge/stats/baseline.ts).
 */
import type { z } from '@hono/zod-openapi';
import type { AlertSchema } from '../../shared/stats-api.ts';
import type { Logger } from '../logger.ts';
import type { PolicyStore } from '../ports/store.ts';
import type { AlertRecord, AlertStore, CountGroup, StatsStore } from '../ports/stats.ts';
import { effectiveRules, SPIKE_DIMENSIONS, SPIKE_SIGNALS, spikeRuleOf, type EffectiveRule, type SpikeRuleId } from '../alerts/rules.ts';
import { spikeReading, spikeResolved, spikeTripped, type SpikeReading } from '../stats/baseline.ts';
import { MINUTE_MS, minuteOf } from '../stats/rollup.ts';
import { splitDomainKey } from '../hub/shaping/policy-event.ts';
import { OPERATOR_TENANT } from './tenancy.ts';

export type AlertServiceStore = StatsStore & AlertStore & Pick<PolicyStore, 'listPolicyEvents'>;

/** How long a baseline read is reused: it spans days and moves by minutes. */
const BASELINE_TTL_MS = 60_000;
/** Policy events looked back over for breaker and warm-up state. */
const POLICY_LOOKBACK_MS = 7 * 86_400_000;

export function alertView(a: AlertRecord): z.infer<typeof AlertSchema> {
  return {
    id: `alert_${a.id}`,
    rule: a.rule,
    subject: a.subject,
    tenant: a.tenantId,
    state: a.state === 'open' ? 'open' : 'resolved',
    summary: a.summary,
    numbers: a.numbers,
    resolved_numbers: a.resolvedNumbers,
    raised_at: new Date(a.raisedAt).toISOString(),
    resolved_at: a.resolvedAt === null ? null : new Date(a.resolvedAt).toISOString(),
  };
}

/** The webhook payload's `data` (shared/events/alert.ts). */
function eventData(a: AlertRecord): Record<string, unknown> {
  const v = alertView(a);
  const body: Record<string, unknown> = { id: v.id, rule: v.rule, subject: v.subject, summary: v.summary, numbers: v.numbers, raised_at: v.raised_at };
  if (v.resolved_at) Object.assign(body, { resolved_at: v.resolved_at, resolved_numbers: v.resolved_numbers ?? {} });
  return body;
}

/** What a rule says about one subject this round: trip it (with numbers), clear it, or nothing known. */
interface Finding {
  rule: EffectiveRule['id'];
  subject: string;
  tenantId: string | null;
  tripped: boolean;
  cleared: boolean;
  summary: string;
  numbers: Record<string, unknown>;
}

type Counts = Map<string, { deferred: number; bounced: number; complained: number; delivered: number; attempts: number }>;

function countsBy(groups: readonly CountGroup[], dim: string): Counts {
  const out: Counts = new Map();
  for (const g of groups) {
    const key = String(g.keys[dim as keyof typeof g.keys]);
    const c = out.get(key) ?? { deferred: 0, bounced: 0, complained: 0, delivered: 0, attempts: 0 };
    const outcome = String(g.keys.outcome);
    if (outcome === 'deferred' || outcome === 'bounced' || outcome === 'complained' || outcome === 'delivered') c[outcome] += g.count;
    if (outcome === 'deferred' || outcome === 'bounced' || outcome === 'delivered') c.attempts += g.count;
    out.set(key, c);
  }
  return out;
}

export class AlertService {
  private readonly baselines = new Map<string, { at: number; groups: CountGroup[] }>();

  constructor(
    private readonly store: AlertServiceStore,
    private readonly logger: Logger,
    private readonly baselineDays: number,
  ) {}

  async rules() {
    return effectiveRules(await this.store.alertRuleSettings());
  }

  /** One evaluation round; returns what it raised and resolved. */
  async evaluate(now: number): Promise<{ raised: AlertRecord[]; resolved: AlertRecord[] }> {
    const rules = (await this.rules()).filter((r) => r.settings.enabled);
    const open = await this.store.openAlerts();
    const findings: Finding[] = [];
    for (const rule of rules) {
      if (rule.id in SPIKE_SIGNALS) findings.push(...(await this.spikes(rule, now)));
    }
    const byRule = new Set(rules.map((r) => r.id));
    if (byRule.has('breaker_trip') || byRule.has('warmup_step_back')) findings.push(...(await this.policyFindings(now, byRule)));
    const webhookRule = rules.find((r) => r.id === 'webhook_failing');
    if (webhookRule) findings.push(...(await this.webhookFindings(webhookRule)));

    const raised: AlertRecord[] = [];
    const resolved: AlertRecord[] = [];
    const openBy = new Map(open.map((a) => [`${a.rule}\u0000${a.subject}`, a]));
    const seen = new Set<string>();
    for (const f of findings) {
      const key = `${f.rule}\u0000${f.subject}`;
      seen.add(key);
      const current = openBy.get(key);
      if (f.tripped && !current) {
        const tenantId = f.tenantId;
        const row = await this.store.raiseAlert(
          { rule: f.rule, subject: f.subject, tenantId, summary: f.summary, numbers: f.numbers, raisedAt: now },
          { type: 'alert.raised', tenantId: tenantId ?? OPERATOR_TENANT, at: now },
          eventData,
        );
        if (row) {
          raised.push(row);
          this.logger.warn({ alert: row.id, rule: f.rule, subject: f.subject, numbers: f.numbers }, `alert raised: ${f.summary}`);
        }
      } else if (current && f.cleared) {
        resolved.push(...(await this.resolve(current, f.numbers, now)));
      }
    }
    // An open alert whose rule was disabled, or whose subject no rule reports any more, resolves.
    for (const a of open) {
      if (seen.has(`${a.rule}\u0000${a.subject}`)) continue;
      if (!byRule.has(a.rule as EffectiveRule['id']) || a.rule === 'webhook_failing' || a.rule in SPIKE_SIGNALS) {
        resolved.push(...(await this.resolve(a, { reason: byRule.has(a.rule as EffectiveRule['id']) ? 'condition gone' : 'rule disabled' }, now)));
      }
    }
    return { raised, resolved };
  }

  private async resolve(a: AlertRecord, numbers: Record<string, unknown>, now: number): Promise<AlertRecord[]> {
    const row = await this.store.resolveAlert(a.id, numbers, now, { type: 'alert.resolved', tenantId: a.tenantId ?? OPERATOR_TENANT, at: now }, eventData);
    if (!row) return [];
    this.logger.info({ alert: row.id, rule: row.rule, subject: row.subject, numbers }, `alert resolved: ${row.summary}`);
    return [row];
  }

  private async baseline(windowFrom: number, now: number): Promise<CountGroup[]> {
    const key = String(windowFrom - minuteOf(now));
    const cached = this.baselines.get(key);
    if (cached && now - cached.at < BASELINE_TTL_MS) return cached.groups;
    const groups = await this.store.rollupCounts({ from: minuteOf(now - this.baselineDays * 86_400_000), to: windowFrom }, [...SPIKE_DIMENSIONS, 'outcome'], null);
    this.baselines.set(key, { at: now, groups });
    return groups;
  }

  private async spikes(rule: EffectiveRule, now: number): Promise<Finding[]> {
    const spike = spikeRuleOf(rule.settings);
    const signal = SPIKE_SIGNALS[rule.id as SpikeRuleId];
    // Whole minutes: the window starts at the minute holding now − window.
    const windowFrom = minuteOf(now - spike.windowMs);
    const [current, base] = await Promise.all([
      this.store.rollupCounts({ from: windowFrom, to: minuteOf(now) + MINUTE_MS }, [...SPIKE_DIMENSIONS, 'outcome'], null),
      this.baseline(windowFrom, now),
    ]);
    const out: Finding[] = [];
    for (const dim of SPIKE_DIMENSIONS) {
      const nowBy = countsBy(current, dim);
      const baseBy = countsBy(base, dim);
      for (const [name, c] of nowBy) {
        const b = baseBy.get(name);
        const reading: SpikeReading = spikeReading({ events: c[signal.events], volume: c[signal.volume] }, { events: b?.[signal.events] ?? 0, volume: b?.[signal.volume] ?? 0 }, spike);
        const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)} %`);
        out.push({
          rule: rule.id,
          subject: `${dim}:${name}`,
          tenantId: null,
          tripped: spikeTripped(reading, spike),
          cleared: spikeResolved(reading, spike),
          summary: `${signal.events} at ${pct(reading.rate)} of ${reading.volume} ${signal.volume} for ${dim} ${name} (baseline ${pct(reading.baseline_rate)}, threshold ${pct(reading.threshold)})`,
          numbers: { ...reading, min_volume: spike.minVolume, factor: spike.factor },
        });
      }
    }
    return out;
  }

  private async policyFindings(now: number, rules: ReadonlySet<string>): Promise<Finding[]> {
    // Newest first: the first event seen per subject is its current state.
    const events = await this.store.listPolicyEvents(now - POLICY_LOOKBACK_MS, 5_000);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const e of events) {
      if (e.type === 'breaker' && rules.has('breaker_trip')) {
        const subject = `breaker:${e.scope}:${e.key}`;
        if (seen.has(subject)) continue;
        seen.add(subject);
        const owner = e.scope === 'domain' ? splitDomainKey(e.key)?.tenantId : e.scope === 'outreach' ? e.key.split('|')[0] : null;
        out.push({
          rule: 'breaker_trip',
          subject,
          tenantId: owner ?? null,
          tripped: e.toState === 'open',
          cleared: e.toState === 'closed',
          summary: `${e.scope} breaker ${e.key} ${e.fromState ?? '?'} → ${e.toState ?? '?'}: ${e.reason}`,
          numbers: { ...(e.data ?? {}), at: new Date(e.at).toISOString() },
        });
      } else if (e.type === 'warmup' && rules.has('warmup_step_back')) {
        const provider = typeof e.data?.provider === 'string' ? e.data.provider : null;
        const decision = typeof e.data?.decision === 'string' ? e.data.decision : null;
        if (!provider || !decision) continue;
        const subject = `warmup:${e.key}:${provider}`;
        if (seen.has(subject)) continue;
        seen.add(subject);
        out.push({
          rule: 'warmup_step_back',
          subject,
          tenantId: null,
          tripped: decision === 'step_back',
          cleared: decision !== 'step_back',
          summary: e.reason,
          numbers: { signals: e.data?.signals ?? null, from_day: e.data?.from_day ?? null, to_day: e.data?.to_day ?? null, cap_to: e.data?.cap_to ?? null, at: new Date(e.at).toISOString() },
        });
      }
    }
    return out;
  }

  private async webhookFindings(rule: EffectiveRule): Promise<Finding[]> {
    const failing = await this.store.failingWebhookEndpoints(rule.settings.min_failures ?? 10);
    return failing.map((e) => ({
      rule: 'webhook_failing' as const,
      subject: `webhook:${e.id}`,
      tenantId: e.tenantId,
      tripped: true,
      cleared: false,
      summary: e.disabledReason ? `webhook endpoint ${e.url} disabled: ${e.disabledReason}` : `webhook endpoint ${e.url} failed ${e.consecutiveFailures} times in a row`,
      numbers: { consecutive_failures: e.consecutiveFailures, failing_since: e.failingSince === null ? null : new Date(e.failingSince).toISOString(), disabled_reason: e.disabledReason },
    }));
  }
}
