/**
 * The alert rules and their defaults (pure). The operator changes a rule's settings with
 * PUT /v1/alerts/rules; what is stored is only the changed fields, laid over these defaults.
 */
import type { AlertRuleId } from '../../shared/stats-api.ts';
import type { SpikeRule } from '../stats/baseline.ts';

export interface RuleSettings {
  enabled: boolean;
  window_ms?: number;
  min_volume?: number;
  factor?: number;
  min_rate?: number;
  resolve_below?: number;
  min_failures?: number;
}

export interface RuleDefinition {
  description: string;
  settings: RuleSettings;
}

/** Which outcome a spike rule watches, and what it is a share of. */
export const SPIKE_SIGNALS = {
  deferral_spike: { events: 'deferred', volume: 'attempts' },
  bounce_spike: { events: 'bounced', volume: 'attempts' },
  complaint_spike: { events: 'complained', volume: 'delivered' },
} as const;
export type SpikeRuleId = keyof typeof SPIKE_SIGNALS;
/** The dimensions a spike is looked for in, each its own alert subject (`provider:gmail`). */
export const SPIKE_DIMENSIONS = ['provider', 'pool', 'domain'] as const;

export const DEFAULT_RULES: Record<AlertRuleId, RuleDefinition> = {
  deferral_spike: {
    description: 'Deferrals of a provider, pool or recipient domain far above their trailing baseline (measured over whole minutes).',
    settings: { enabled: true, window_ms: 120_000, min_volume: 20, factor: 3, min_rate: 0.2, resolve_below: 0.5 },
  },
  bounce_spike: {
    description: 'Bounces of a provider, pool or recipient domain far above their trailing baseline.',
    settings: { enabled: true, window_ms: 120_000, min_volume: 20, factor: 3, min_rate: 0.1, resolve_below: 0.5 },
  },
  complaint_spike: {
    description: 'Complaints (ARF) over deliveries of a provider, pool or recipient domain far above their trailing baseline.',
    settings: { enabled: true, window_ms: 3_600_000, min_volume: 200, factor: 3, min_rate: 0.003, resolve_below: 0.5 },
  },
  breaker_trip: { description: 'A pool, sending-domain or outreach circuit breaker opened; resolved when it closes.', settings: { enabled: true } },
  warmup_step_back: { description: 'A warm-up stepped back a day for a provider; resolved by its next other decision.', settings: { enabled: true } },
  webhook_failing: { description: 'A webhook endpoint failing in a row, or disabled by the platform; resolved when it delivers again.', settings: { enabled: true, min_failures: 10 } },
};

export interface EffectiveRule extends RuleDefinition {
  id: AlertRuleId;
  customizedAt: number | null;
}

export function effectiveRules(stored: ReadonlyArray<{ id: string; settings: Record<string, unknown>; updatedAt: number }>): EffectiveRule[] {
  const byId = new Map(stored.map((s) => [s.id, s]));
  return (Object.keys(DEFAULT_RULES) as AlertRuleId[]).map((id) => {
    const s = byId.get(id);
    return { id, description: DEFAULT_RULES[id].description, settings: { ...DEFAULT_RULES[id].settings, ...(s?.settings ?? {}) } as RuleSettings, customizedAt: s?.updatedAt ?? null };
  });
}

export function spikeRuleOf(s: RuleSettings): SpikeRule {
  return { windowMs: s.window_ms ?? 120_000, minVolume: s.min_volume ?? 20, factor: s.factor ?? 3, minRate: s.min_rate ?? 0.2, resolveBelow: s.resolve_below ?? 0.5 };
}
