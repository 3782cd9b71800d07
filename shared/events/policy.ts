/**
 * The policy event catalog: every change of shaping state the hub and the API store
 * (`policy_events`), replayed by a restarted hub (Shaper.restore), read by the outreach pause at
 * accept and listed by /v1/reputation and /v1/warmups. Each type names the scopes it is stored
 * under and the schema of its `data`; emission sites build events only through `policyEvent`.
 *
 * | type    | scope                    | what changed                                                        |
 * | ------- | ------------------------ | ------------------------------------------------------------------- |
 * | breaker | pool, domain             | a circuit breaker moved (closed / slow_start / open)                |
 * | breaker | outreach                 | the outreach complaint pause (tenant or tenant|domain) paused/lifted |
 * | rate    | provider_pool            | an AIMD rate change (`from`/`to` are `N.NN/min`)                    |
 * | suspend | provider_ip              | a source IP suspended for a provider (`to` is the ISO end)          |
 * | automation | provider_ip, domain   | a provider record's automation rule acted on a live reply: tighter  |
 * |         |                          | shaping for an IP, a sender domain paused, or an alert (`to` is the |
 * |         |                          | ISO end of a timed action)                                          |
 * | warmup  | warmup                   | a warm-up started, decided a day, completed or was stopped          |
 * | domain  | domain_auth              | a sending domain's DNS verification moved (pending/verified/failed) |
 */
import { z } from 'zod';

const breakerMetrics = z.object({
  sent: z.number(),
  bounced: z.number(),
  complained: z.number(),
  blocked: z.number(),
  bounceRate: z.number(),
  complaintRate: z.number(),
});

const warmupTarget = {
  warmup: z.string(),
  scope: z.string(),
  target: z.string(),
  pool: z.string().nullable(),
};

const warmupSignals = z.object({ sent: z.number(), complained: z.number(), blocked: z.number(), bounced: z.number() });

export const WARMUP_DECISIONS = ['grow', 'hold', 'step_back', 'complete'] as const;

export const POLICY_EVENT_SCHEMAS = {
  breaker: z.object({
    metrics: breakerMetrics,
    /** Rate the breaker allows after the move (0 when open). */
    rate_per_min: z.number(),
    /** Outreach pause only: when the pause lifts (epoch ms), and the policy that tripped it. */
    open_until: z.number().optional(),
    rule: z.object({ pause_on_complaint_rate: z.number(), pause_min_volume: z.number() }).optional(),
  }),
  rate: z.object({ provider: z.string(), pool: z.string() }),
  suspend: z.object({ provider: z.string(), ip: z.string(), /** The automation rule that suspended it, if one did. */ rule: z.string().optional() }),
  automation: z.object({
    /** The automation rule's id (shared/policy/providers/<provider>.json `automation`). */
    rule: z.string(),
    action: z.enum(['set_shaping', 'pause_domain', 'alert']),
    provider: z.string(),
    ip: z.string().nullable(),
    /** Timed actions: when they end (epoch ms). */
    until: z.number().optional(),
    /** set_shaping: the shaping in force for (provider, ip) until then. */
    shaping: z.object({ ratePerIp: z.string().optional(), maxConnectionsPerIp: z.number().optional(), messagesPerConnection: z.number().optional() }).optional(),
    /** alert: what a human must do. */
    message: z.string().optional(),
    /** The reply that fired the rule. */
    reply: z.string().optional(),
  }),
  warmup: z.union([
    /** A plan day decided for one provider. */
    z.object({
      ...warmupTarget,
      provider: z.string(),
      decision: z.enum(WARMUP_DECISIONS),
      from_day: z.number().int(),
      to_day: z.number().int(),
      signals: warmupSignals,
      cap_from: z.number(),
      cap_to: z.number(),
    }),
    /** Started by an operator (POST /v1/warmups). */
    z.object({ ...warmupTarget, lane: z.string().nullable(), overrides: z.record(z.string(), z.unknown()), by: z.string() }),
    /** Stopped by an operator. */
    z.object({ ...warmupTarget, by: z.string() }),
    /** Every provider reached the plan's maximum. */
    z.object(warmupTarget),
  ]),
  /** Key = the sending domain's id; `records` is each record's status at the check. */
  domain: z.object({
    tenant: z.string(),
    domain: z.string(),
    records: z.record(z.string(), z.string()),
    /** What moved it: `api` (POST /v1/domains/:id/verify) or `schedule`. */
    by: z.enum(['api', 'schedule', 'create']),
  }),
} as const;

export type PolicyEventType = keyof typeof POLICY_EVENT_SCHEMAS;

export const POLICY_EVENT_TYPES = Object.keys(POLICY_EVENT_SCHEMAS) as [PolicyEventType, ...PolicyEventType[]];

/** The scopes each type is stored under. */
export const POLICY_EVENT_SCOPES = {
  breaker: ['pool', 'domain', 'outreach'],
  rate: ['provider_pool'],
  suspend: ['provider_ip'],
  automation: ['provider_ip', 'domain'],
  warmup: ['warmup'],
  domain: ['domain_auth'],
} as const satisfies Record<PolicyEventType, readonly string[]>;

export type PolicyScope = (typeof POLICY_EVENT_SCOPES)[PolicyEventType][number];

export type PolicyEventData<T extends PolicyEventType> = z.input<(typeof POLICY_EVENT_SCHEMAS)[T]>;

/** A policy event as shaping speaks it (`from`/`to`); `policyRecord` gives the stored form. */
export interface PolicyEventDraft<T extends PolicyEventType = PolicyEventType> {
  scope: PolicyScope;
  key: string;
  type: T;
  from: string | null;
  to: string | null;
  reason: string;
  at: number;
  data: Record<string, unknown>;
}

/** A policy event as the store inserts it (edge's `Omit<PolicyEventRecord, 'id'>`). */
export interface PolicyEventRow {
  scope: string;
  key: string;
  type: PolicyEventType;
  fromState: string | null;
  toState: string | null;
  reason: string;
  at: number;
  data: Record<string, unknown> | null;
}

/** Builds a policy event of a catalog type; scope and `data` are checked against the type at compile time. */
export function policyEvent<T extends PolicyEventType>(
  type: T,
  e: { scope: (typeof POLICY_EVENT_SCOPES)[T][number]; key: string; from: string | null; to: string | null; reason: string; at: number; data: PolicyEventData<T> },
): PolicyEventDraft<T> {
  return { scope: e.scope, key: e.key, type, from: e.from, to: e.to, reason: e.reason, at: e.at, data: e.data as Record<string, unknown> };
}

/** The stored form of a policy event. */
export function policyRecord(e: PolicyEventDraft): PolicyEventRow {
  return { scope: e.scope, key: e.key, type: e.type, fromState: e.from, toState: e.to, reason: e.reason, at: e.at, data: e.data };
}

export function isPolicyEventType(type: string): type is PolicyEventType {
  return Object.hasOwn(POLICY_EVENT_SCHEMAS, type);
}

export function parsePolicyEventData<T extends PolicyEventType>(type: T, data: unknown) {
  return POLICY_EVENT_SCHEMAS[type].safeParse(data);
}
