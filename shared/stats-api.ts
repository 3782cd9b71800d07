/**
 * The statistics, reputation health, alert and export API's bodies (`/v1/stats`,
 * `/v1/stats/health`, `/v1/alerts`, `/v1/export/*`): one zod schema each, documented in the
 * OpenAPI document. Times are ISO 8601; durations are milliseconds; rates are shares (0..1).
 */
import { z } from '@hono/zod-openapi';

const Iso = z.string().datetime({ offset: true });
const Name = z.string().min(1).max(253);

export const STATS_BUCKETS = ['minute', 'hour', 'day'] as const;

const Filters = {
  /** Recipient domain. */
  domain: Name.optional(),
  provider: Name.optional(),
  pool: Name.optional(),
  lane: Name.optional(),
  sender_domain: Name.optional(),
  /** Operator only: one tenant's mail (another tenant always sees its own). */
  tenant: z.string().min(1).max(64).optional(),
};

export const StatsQuerySchema = z.object({
  /** Default: 24 h before `to`. */
  from: Iso.optional(),
  /** Default: now. */
  to: Iso.optional(),
  /** Adds a `series` bucketed by minute, hour or day (UTC). */
  bucket: z.enum(STATS_BUCKETS).optional(),
  ...Filters,
});

export const PercentileSchema = z
  .object({
    /** The geometric middle of the histogram bucket that holds the percentile (within ≈ 9 % of the true value). */
    value_ms: z.number(),
    /** The bucket: the true (nearest-rank) percentile is ≥ lower_ms and < upper_ms. */
    lower_ms: z.number(),
    upper_ms: z.number(),
  })
  .openapi('Percentile');

export const LatencySchema = z
  .object({
    count: z.number().int(),
    p50: PercentileSchema.nullable(),
    p90: PercentileSchema.nullable(),
    p95: PercentileSchema.nullable(),
    p99: PercentileSchema.nullable(),
  })
  .openapi('LatencyPercentiles');

export const LatenciesSchema = z
  .object({
    /** Accept → the first delivery attempt's start. */
    first_attempt: LatencySchema,
    /** Accept → the receiving server's 2xx. */
    accept: LatencySchema,
    /** Accept → delivered, bounced or failed. */
    final: LatencySchema,
  })
  .openapi('Latencies');

export const OutcomeCountsSchema = z
  .object({
    delivered: z.number().int(),
    deferred: z.number().int(),
    bounced: z.number().int(),
    failed: z.number().int(),
    complained: z.number().int(),
    /** delivered + deferred + bounced: every attempt's result. */
    attempts: z.number().int(),
    rates: z.object({
      /** Shares of attempts. */
      delivered: z.number().nullable(),
      deferred: z.number().nullable(),
      bounced: z.number().nullable(),
      /** Share of deliveries. */
      complained: z.number().nullable(),
    }),
  })
  .openapi('OutcomeCounts');

export const CodeShareSchema = z
  .object({
    provider: z.string(),
    outcome: z.enum(['deferred', 'bounced']),
    /** RFC 3463 enhanced code (`4.7.28`), or null when the reply had none. */
    enhanced: z.string().nullable(),
    /** RFC 5321 basic code, or null (no reply: a network error). */
    code: z.number().int().nullable(),
    /** The reply class (shared/policy/reply-classes.ts) and what it means. */
    class: z.string().nullable(),
    hint: z.string().nullable(),
    count: z.number().int(),
    /** Share of this provider's deferrals (or bounces). */
    share: z.number(),
  })
  .openapi('CodeShare');

export const StatsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    bucket: z.enum(STATS_BUCKETS).nullable(),
    filters: z.record(z.string(), z.string()),
    /** Every latency bucket spans a factor of 2^(1/4): percentiles are exact to that bucket. */
    histogram_bucket_factor: z.number(),
    outcomes: OutcomeCountsSchema,
    latency: LatenciesSchema,
    codes: z.array(CodeShareSchema),
    series: z.array(z.object({ start: z.string(), outcomes: OutcomeCountsSchema, latency: LatenciesSchema })),
  })
  .openapi('Stats');

export const HEALTH_STATES = ['good', 'watch', 'bad'] as const;

export const SignalHealthSchema = z
  .object({
    current: z.number().nullable(),
    baseline: z.number().nullable(),
    /** current − baseline. */
    deviation: z.number().nullable(),
    /** current / baseline (null when the baseline is 0 or unknown). */
    ratio: z.number().nullable(),
    /** The volume the current value is over (attempts, deliveries or accepted messages). */
    volume: z.number().int(),
    /** Too little volume in the window to judge: the state stays good. */
    low_volume: z.boolean(),
    state: z.enum(HEALTH_STATES),
  })
  .openapi('SignalHealth');

export const SubjectHealthSchema = z
  .object({
    /** `pool` or `domain` (a sending domain). */
    kind: z.enum(['pool', 'domain']),
    name: z.string(),
    /** The sending domain's tenant (domains only). */
    tenant: z.string().nullable(),
    state: z.enum(HEALTH_STATES),
    complaint_rate: SignalHealthSchema,
    hard_bounce_rate: SignalHealthSchema,
    deferral_rate: SignalHealthSchema,
    /** p50 time to accept, ms. */
    acceptance_latency_ms: SignalHealthSchema,
  })
  .openapi('SubjectHealth');

export const HealthQuerySchema = z.object({
  /** The current window, in minutes (default 60). */
  window_minutes: z.coerce.number().int().min(5).max(1440).default(60),
  pool: Name.optional(),
  sender_domain: Name.optional(),
  tenant: Filters.tenant,
});

export const HealthSchema = z
  .object({
    window: z.object({ from: z.string(), to: z.string() }),
    baseline: z.object({ from: z.string(), to: z.string(), days: z.number().int() }),
    data: z.array(SubjectHealthSchema),
  })
  .openapi('ReputationHealth');

// --- Alerts ---------------------------------------------------------------------------------

export const ALERT_RULE_IDS = ['deferral_spike', 'bounce_spike', 'complaint_spike', 'breaker_trip', 'warmup_step_back', 'webhook_failing'] as const;
export type AlertRuleId = (typeof ALERT_RULE_IDS)[number];

/** What an operator may change of a rule; absent fields keep their default. */
export const AlertRuleSettingsSchema = z
  .object({
    enabled: z.boolean().optional(),
    /** Spikes: the trailing window the rate is measured over. */
    window_ms: z.number().int().min(5_000).max(86_400_000).optional(),
    /** Spikes: fewer attempts (deliveries for complaints) than this in the window never trip. */
    min_volume: z.number().int().min(1).max(1_000_000).optional(),
    /** Spikes: trips at this many times the baseline rate… */
    factor: z.number().min(1).max(1000).optional(),
    /** …and never below this rate. */
    min_rate: z.number().min(0).max(1).optional(),
    /** Spikes: resolves once the rate is below this share of the threshold. */
    resolve_below: z.number().min(0).max(1).optional(),
    /** webhook_failing: failed attempts in a row that raise it. */
    min_failures: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .openapi('AlertRuleSettings');

export const AlertRuleSchema = z
  .object({
    id: z.enum(ALERT_RULE_IDS),
    description: z.string(),
    enabled: z.boolean(),
    settings: z.record(z.string(), z.union([z.number(), z.boolean()])),
    /** Whether the operator changed its defaults, and when. */
    customized_at: z.string().nullable(),
  })
  .openapi('AlertRule');

export const AlertRulesSchema = z.object({ data: z.array(AlertRuleSchema) }).openapi('AlertRules');

export const PutAlertRulesSchema = z
  .object({ rules: z.partialRecord(z.enum(ALERT_RULE_IDS), AlertRuleSettingsSchema) })
  .strict()
  .openapi('PutAlertRules');

export const AlertSchema = z
  .object({
    id: z.string(),
    rule: z.string(),
    subject: z.string(),
    tenant: z.string().nullable(),
    state: z.enum(['open', 'resolved']),
    summary: z.string(),
    numbers: z.record(z.string(), z.unknown()),
    resolved_numbers: z.record(z.string(), z.unknown()).nullable(),
    raised_at: z.string(),
    resolved_at: z.string().nullable(),
  })
  .openapi('Alert');

export const AlertListQuerySchema = z.object({
  state: z.enum(['open', 'resolved']).optional(),
  /** Cursor: the `id` of the last alert of the previous page. */
  before: z.string().regex(/^alert_\d+$/).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const AlertListSchema = z.object({ data: z.array(AlertSchema), next_before: z.string().nullable() }).openapi('AlertList');

// --- Export ---------------------------------------------------------------------------------

export const ExportQuerySchema = z.object({
  from: Iso,
  to: Iso,
  /** Operator only: one tenant's rows (another tenant always gets its own). */
  tenant: Filters.tenant,
});
