/**
 * The store's schema: the single source of truth for the database. drizzle-kit generates
 * `migrations/` from this file (`npm run db:generate`). Its rows are the domain records of
 * edge/domain/records.ts (records-match-schema.ts checks it); only the store's code uses the
 * row types. Times are epoch milliseconds (integers) so both runtimes and every query compare
 * them alike.
 */
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from 'drizzle-orm/sqlite-core';
import { sql } from 'drizzle-orm';
import type { DomainChecks, WarmupProviderState } from '../domain/records.ts';

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Token-bucket rate for the send API, messages per second; null uses the platform default. */
  apiRatePerSec: integer('api_rate_per_sec'),
  createdAt: integer('created_at').notNull(),
});

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    /** SHA-256 of the key; the key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull(),
    /** The first characters, so an operator can tell keys apart. */
    prefix: text('prefix').notNull(),
    /** JSON array of scopes: send, read, admin. */
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    name: text('name'),
    createdAt: integer('created_at').notNull(),
    /** Revoked from this time on; a rotation sets it ahead (the overlap), a revoke to now. */
    revokedAt: integer('revoked_at'),
    /** Updated at most once a minute per key (edge/middleware/auth.ts). */
    lastUsedAt: integer('last_used_at'),
    /** The key this one replaced by rotation. */
    rotatedFrom: text('rotated_from'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.keyHash), index('api_keys_tenant').on(t.tenantId, t.createdAt)],
);

export const nodeTokens = sqliteTable(
  'node_tokens',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    region: text('region').notNull(),
    /** JSON array of the source IPs the node may send from; ['*'] allows any it declares. */
    allowedIps: text('allowed_ips', { mode: 'json' }).$type<string[]>().notNull(),
    name: text('name'),
    createdAt: integer('created_at').notNull(),
    revokedAt: integer('revoked_at'),
    /**
     * A rotation keeps the token's id (IP bindings and the hub's node ownership name it) and
     * moves the old hash here, valid until previous_expires_at (the overlap).
     */
    previousTokenHash: text('previous_token_hash'),
    previousExpiresAt: integer('previous_expires_at'),
    rotatedAt: integer('rotated_at'),
  },
  (t) => [uniqueIndex('node_tokens_hash').on(t.tokenHash), index('node_tokens_previous_hash').on(t.previousTokenHash)],
);

export const nodes = sqliteTable('nodes', {
  id: text('id').primaryKey(),
  region: text('region').notNull(),
  version: text('version').notNull(),
  /** JSON array of { address, pool, ehlo } accepted at the last hello. */
  ips: text('ips', { mode: 'json' }).$type<Array<{ address: string; pool: string; ehlo: string }>>().notNull(),
  capacity: integer('capacity').notNull(),
  connectedAt: integer('connected_at'),
  lastSeenAt: integer('last_seen_at').notNull(),
});

export const pools = sqliteTable('pools', {
  name: text('name').primaryKey(),
  /** A dedicated pool belongs to one tenant; shared pools have none. */
  tenantId: text('tenant_id'),
  description: text('description'),
  createdAt: integer('created_at').notNull(),
});

export const sendingDomains = sqliteTable(
  'sending_domains',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    domain: text('domain').notNull(),
    dkimSelector: text('dkim_selector').notNull(),
    dkimAlgorithm: text('dkim_algorithm').notNull(),
    /** PKCS#8 PEM encrypted with the master key (AES-256-GCM): `v1.<iv>.<ciphertext>` base64url. */
    dkimPrivateKeyEnc: text('dkim_private_key_enc').notNull(),
    /** The public key as published in the DKIM TXT record's p= tag. */
    dkimPublicKey: text('dkim_public_key').notNull(),
    /** Domain of the VERP return path (RFC 5321 MAIL FROM); bounces come back here. */
    returnPathDomain: text('return_path_domain').notNull(),
    /** pending | verified | failed (edge/services/domain-check.ts). */
    status: text('status').notNull(),
    createdAt: integer('created_at').notNull(),
    /** This tenant's ownership token: `_postlane.<domain>` TXT `postlane-verify=<token>`. */
    verifyToken: text('verify_token'),
    /** The last DNS check: per-record status, what was found, the lookup error if any. */
    checks: text('checks', { mode: 'json' }).$type<DomainChecks>(),
    checkedAt: integer('checked_at'),
    verifiedAt: integer('verified_at'),
  },
  (t) => [
    uniqueIndex('sending_domains_tenant_domain').on(t.tenantId, t.domain),
    // A domain is verified by one tenant at a time: the store, not a check-then-write, decides.
    uniqueIndex('sending_domains_verified_domain').on(t.domain).where(sql`status = 'verified'`),
  ],
);

export const messages = sqliteTable(
  'messages',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    fromAddress: text('from_address').notNull(),
    fromDomain: text('from_domain').notNull(),
    subject: text('subject').notNull(),
    lane: text('lane').notNull(),
    pool: text('pool').notNull(),
    /** The RFC 5322 message as accepted, CRLF line ends, stored once however many recipients. */
    raw: text('raw').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    messageIdHeader: text('message_id_header').notNull(),
    tags: text('tags', { mode: 'json' }).$type<Record<string, string>>(),
    constraints: text('constraints', { mode: 'json' }).$type<Record<string, unknown>>(),
    sendAt: integer('send_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('messages_tenant_created').on(t.tenantId, t.createdAt)],
);

/**
 * Idempotency keys (SPEC §2): the unique (tenant, key) is what makes a replay return the first
 * response; it is written in the same transaction as the messages it answers for.
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    tenantId: text('tenant_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    response: text('response').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] })],
);

export const deliveryJobs = sqliteTable(
  'delivery_jobs',
  {
    id: text('id').primaryKey(),
    messageId: text('message_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    recipient: text('recipient').notNull(),
    /** Which header the recipient came from: to, cc or bcc. */
    recipientKind: text('recipient_kind').notNull(),
    domain: text('domain').notNull(),
    /** The From domain: its circuit breaker and budgets apply to this job. */
    senderDomain: text('sender_domain').notNull(),
    provider: text('provider').notNull(),
    pool: text('pool').notNull(),
    lane: text('lane').notNull(),
    /** Region constraint; null lets any region's nodes take the job. */
    region: text('region'),
    /** Stable across retries and nodes: message id + recipient; the node journal keys on it. */
    dedupKey: text('dedup_key').notNull(),
    /** queued | leased | delivered | bounced | failed | suppressed */
    state: text('state').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseId: text('lease_id'),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    lastReply: text('last_reply'),
    lastClass: text('last_class'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    uniqueIndex('delivery_jobs_dedup').on(t.dedupKey),
    index('delivery_jobs_ready').on(t.state, t.nextAttemptAt),
    index('delivery_jobs_lease').on(t.state, t.leaseExpiresAt),
    index('delivery_jobs_message').on(t.messageId),
    index('delivery_jobs_tenant_state').on(t.tenantId, t.state),
  ],
);

/** Every state change of a message or one of its jobs, in order: the trace answers "why". */
export const messageEvents = sqliteTable(
  'message_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    messageId: text('message_id').notNull(),
    jobId: text('job_id'),
    type: text('type').notNull(),
    at: integer('at').notNull(),
    data: text('data', { mode: 'json' }).$type<Record<string, unknown>>(),
  },
  (t) => [index('message_events_message').on(t.messageId, t.id)],
);


/**
 * State changes of pools, sender domains and provider budgets (breaker transitions, adaptive
 * rate moves, IP suspensions): the "why" behind a slowdown that no single message explains.
 */
export const policyEvents = sqliteTable(
  'policy_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    type: text('type').notNull(),
    fromState: text('from_state'),
    toState: text('to_state'),
    reason: text('reason').notNull(),
    at: integer('at').notNull(),
    data: text('data', { mode: 'json' }).$type<Record<string, unknown>>(),
  },
  (t) => [index('policy_events_at').on(t.at), index('policy_events_scope_key').on(t.scope, t.key, t.at)],
);

/** Each tenant's layer of the policy document (shared/policy/defaults.ts), as last set through the API. */
export const tenantPolicies = sqliteTable('tenant_policies', {
  tenantId: text('tenant_id').primaryKey(),
  document: text('document', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  version: integer('version').notNull(),
  updatedAt: integer('updated_at').notNull(),
  updatedBy: text('updated_by'),
});

export type PolicyEventRow = typeof policyEvents.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type DeliveryJobRow = typeof deliveryJobs.$inferSelect;
export type MessageEventRow = typeof messageEvents.$inferSelect;
export type SendingDomainRow = typeof sendingDomains.$inferSelect;

// ---------------------------------------------------------------------------------------------
// Warm-ups (SPEC §4): a pool's or one source IP's warm-up plan and where it stands.

/**
 * Warm-ups of a pool (scope `pool`, key = pool name) or of one source IP (scope `ip`, key = the
 * address, pool = the pool it serves). The hub's WarmupGate holds the live counts and writes
 * them back here in batches on its tick, so a restart keeps the day and today's counts.
 */
export const warmups = sqliteTable(
  'warmups',
  {
    id: text('id').primaryKey(),
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    pool: text('pool'),
    /** The lane whose policy plan this warm-up started from; null = the policy defaults. */
    lane: text('lane'),
    /** The operator's plan overrides as given (validated with the policy's warm-up plan schema). */
    overrides: text('overrides', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** The full plan: lane/default plan with the overrides merged, fixed when the warm-up starts. */
    plan: text('plan', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** active | complete | stopped */
    status: text('status').notNull(),
    startedAt: integer('started_at').notNull(),
    /** Start of the current plan day; the day rolls over 24 h later. */
    dayStart: integer('day_start').notNull(),
    providers: text('providers', { mode: 'json' }).$type<Record<string, WarmupProviderState>>().notNull(),
    endedAt: integer('ended_at'),
    createdBy: text('created_by'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    // One active warm-up per pool or IP, enforced by the store rather than a check-then-insert.
    uniqueIndex('warmups_active_target').on(t.scope, t.key).where(sql`status = 'active'`),
    index('warmups_status').on(t.status),
  ],
);

export type WarmupRow = typeof warmups.$inferSelect;
// Feedback and suppression (SPEC §5)

/**
 * Addresses a tenant must not send to again, and why: a hard bounce, a spam complaint (ARF,
 * RFC 5965), an unsubscribe (RFC 8058) or an operator's hand. Checked at accept; one row per
 * tenant and lower-cased address (the first reason stands).
 */
export const suppressions = sqliteTable(
  'suppressions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    tenantId: text('tenant_id').notNull(),
    /** Lower-cased addr-spec. */
    address: text('address').notNull(),
    /** hard_bounce | complaint | unsubscribe | manual */
    reason: text('reason').notNull(),
    /** What said so: the SMTP reply, the report (feedback type, reporter), or the API caller's note. */
    source: text('source'),
    messageId: text('message_id'),
    jobId: text('job_id'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('suppressions_tenant_address').on(t.tenantId, t.address), index('suppressions_tenant_id').on(t.tenantId, t.id)],
);

export type SuppressionRow = typeof suppressions.$inferSelect;

// Webhooks (events out): endpoints per tenant, the fan-out cursor over message_events, and one
// delivery row per (endpoint, event) with the endpoint stream's sequence (edge/webhooks/).

export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    url: text('url').notNull(),
    description: text('description'),
    eventTypes: text('event_types', { mode: 'json' }).$type<string[]>().notNull(),
    /** Only messages of these lanes / from-domains; null: every one. */
    lanes: text('lanes', { mode: 'json' }).$type<string[]>(),
    domains: text('domains', { mode: 'json' }).$type<string[]>(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull(),
    /** Sealed with the master key (Secrets): the current `whsec_…`, and the one it replaced during the overlap. */
    secretEnc: text('secret_enc').notNull(),
    previousSecretEnc: text('previous_secret_enc'),
    previousSecretExpiresAt: integer('previous_secret_expires_at'),
    /** The sequence the stream's next delivery gets (monotonic, gap-free). */
    nextSequence: integer('next_sequence').notNull(),
    /** Events up to this message_events id predate the endpoint. */
    startEventId: integer('start_event_id').notNull(),
    consecutiveFailures: integer('consecutive_failures').notNull(),
    failingSince: integer('failing_since'),
    /** Why the platform disabled it (continuous failure); null when enabled or disabled by the tenant. */
    disabledReason: text('disabled_reason'),
    disabledAt: integer('disabled_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_tenant').on(t.tenantId, t.createdAt)],
);

/** Where the fan-out stands in message_events (one row, name `fanout`). */
export const webhookCursor = sqliteTable('webhook_cursor', {
  name: text('name').primaryKey(),
  eventId: integer('event_id').notNull(),
});

export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    endpointId: text('endpoint_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    eventId: integer('event_id').notNull(),
    sequence: integer('sequence').notNull(),
    messageId: text('message_id').notNull(),
    jobId: text('job_id'),
    type: text('type').notNull(),
    /** The event's place in its message's trace, from 1. */
    messageEventIndex: integer('message_event_index').notNull(),
    at: integer('at').notNull(),
    data: text('data'),
    /** pending | delivered | dead */
    state: text('state').notNull(),
    attempts: integer('attempts').notNull(),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    firstAttemptAt: integer('first_attempt_at'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    finishedAt: integer('finished_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_stream').on(t.endpointId, t.sequence),
    uniqueIndex('webhook_deliveries_event').on(t.endpointId, t.eventId),
    index('webhook_deliveries_due').on(t.endpointId, t.state, t.nextAttemptAt),
    index('webhook_deliveries_message').on(t.endpointId, t.messageId, t.state, t.sequence),
    index('webhook_deliveries_dead').on(t.endpointId, t.state, t.finishedAt),
  ],
);

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

// ---------------------------------------------------------------------------------------------
// Operator control (SPEC §7): source IPs as resources, the audit log, configuration versions.

/**
 * Source IPs registered by the operator: the pool each serves and the node token allowed to
 * send from it. A registered IP overrides what a node declares at hello (edge/hub/sessions.ts);
 * a draining or retired one gets no new leases.
 */
export const sourceIps = sqliteTable('source_ips', {
  address: text('address').primaryKey(),
  pool: text('pool').notNull(),
  /** Only this node token's nodes may send from it; null: any token that allows the address. */
  nodeTokenId: text('node_token_id'),
  /** active | draining | retired */
  status: text('status').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** Every configuration change, by any path: append-only (no route or store call deletes a row). */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actorKeyId: text('actor_key_id').notNull(),
    actorKeyName: text('actor_key_name'),
    actorTenantId: text('actor_tenant_id'),
    /** The tenant whose configuration changed (null: the platform's, e.g. pools and IPs). */
    tenantId: text('tenant_id'),
    action: text('action').notNull(),
    targetKind: text('target_kind').notNull(),
    targetId: text('target_id').notNull(),
    /** Masked: no secret ever reaches these (edge/services/audit.ts). */
    before: text('before', { mode: 'json' }).$type<unknown>(),
    after: text('after', { mode: 'json' }).$type<unknown>(),
    reason: text('reason'),
  },
  (t) => [index('audit_log_tenant').on(t.tenantId, t.id), index('audit_log_target').on(t.targetKind, t.targetId, t.id), index('audit_log_actor').on(t.actorKeyId, t.id)],
);

/**
 * Applied configuration versions per tenant (configuration as code): `seq` grows by one per
 * apply, and the unique (tenant, seq) is what lets only one of two racing applies commit.
 */
export const configVersions = sqliteTable(
  'config_versions',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    seq: integer('seq').notNull(),
    /** The document as applied (it holds no secrets: they are generated, never declared). */
    document: text('document', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** The changes it made (masked), as the plan showed them. */
    changes: text('changes', { mode: 'json' }).$type<unknown[]>().notNull(),
    /** Hash of the live state after the apply. */
    stateHash: text('state_hash').notNull(),
    /** apply | rollback */
    kind: text('kind').notNull(),
    rollbackOf: text('rollback_of'),
    appliedBy: text('applied_by').notNull(),
    appliedAt: integer('applied_at').notNull(),
  },
  (t) => [uniqueIndex('config_versions_tenant_seq').on(t.tenantId, t.seq)],
);

/** Plans waiting for an apply: what they would change, against which live state. */
export const configPlans = sqliteTable('config_plans', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  /** The seq of the latest version when planned: the apply writes seq + 1. */
  baseSeq: integer('base_seq').notNull(),
  /** Hash of the live state when planned: the apply is refused if it differs. */
  stateHash: text('state_hash').notNull(),
  document: text('document', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  changes: text('changes', { mode: 'json' }).$type<unknown[]>().notNull(),
  kind: text('kind').notNull(),
  rollbackOf: text('rollback_of'),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
  appliedAt: integer('applied_at'),
});

// Statistics and alerts (events out): rollups kept as message events are written
// (edge/store/libsql/rollups.ts, same transaction), and the alert rules and log (edge/services/alerts.ts).

/** Outcome counts per minute and dimension; '' / 0 where an event has no class, enhanced or basic code. */
export const deliveryRollups = sqliteTable(
  'delivery_rollups',
  {
    /** Start of the minute (epoch ms). */
    minute: integer('minute').notNull(),
    tenantId: text('tenant_id').notNull(),
    lane: text('lane').notNull(),
    pool: text('pool').notNull(),
    provider: text('provider').notNull(),
    /** Recipient domain. */
    domain: text('domain').notNull(),
    senderDomain: text('sender_domain').notNull(),
    /** delivered | deferred | bounced | failed | complained */
    outcome: text('outcome').notNull(),
    replyClass: text('reply_class').notNull(),
    enhanced: text('enhanced').notNull(),
    code: integer('code').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.minute, t.tenantId, t.lane, t.pool, t.provider, t.domain, t.senderDomain, t.outcome, t.replyClass, t.enhanced, t.code] }),
    index('delivery_rollups_tenant_minute').on(t.tenantId, t.minute),
  ],
);

/** Latency histograms per minute and dimension: counts per log-scale bucket (edge/stats/histogram.ts). */
export const latencyRollups = sqliteTable(
  'latency_rollups',
  {
    minute: integer('minute').notNull(),
    tenantId: text('tenant_id').notNull(),
    lane: text('lane').notNull(),
    pool: text('pool').notNull(),
    provider: text('provider').notNull(),
    domain: text('domain').notNull(),
    senderDomain: text('sender_domain').notNull(),
    /** first_attempt | accept | final */
    metric: text('metric').notNull(),
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.minute, t.tenantId, t.lane, t.pool, t.provider, t.domain, t.senderDomain, t.metric, t.bucket] }),
    index('latency_rollups_tenant_minute').on(t.tenantId, t.minute),
  ],
);

/** All-time outcome counts by provider, pool and class: the Prometheus counters (bounded label sets). */
export const deliveryTotals = sqliteTable(
  'delivery_totals',
  {
    provider: text('provider').notNull(),
    pool: text('pool').notNull(),
    outcome: text('outcome').notNull(),
    replyClass: text('reply_class').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.pool, t.outcome, t.replyClass] })],
);

/** The operator's changes to an alert rule's defaults (edge/alerts/rules.ts), one row per rule. */
export const alertRules = sqliteTable('alert_rules', {
  id: text('id').primaryKey(),
  settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** The alert log: one open alert per (rule, subject) at a time (a unique index decides). */
export const alerts = sqliteTable(
  'alerts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    rule: text('rule').notNull(),
    subject: text('subject').notNull(),
    /** Whose alert it is (its webhooks get it); null: the platform's (the operator tenant's). */
    tenantId: text('tenant_id'),
    /** open | resolved */
    state: text('state').notNull(),
    summary: text('summary').notNull(),
    /** The numbers that tripped it. */
    numbers: text('numbers', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** The numbers when it resolved. */
    resolvedNumbers: text('resolved_numbers', { mode: 'json' }).$type<Record<string, unknown>>(),
    raisedAt: integer('raised_at').notNull(),
    resolvedAt: integer('resolved_at'),
  },
  (t) => [
    uniqueIndex('alerts_open_subject').on(t.rule, t.subject).where(sql`state = 'open'`),
    index('alerts_raised').on(t.raisedAt),
  ],
);

export type AlertRow = typeof alerts.$inferSelect;

/** Stored templates (SPEC §7): one row per template; its content lives in its versions. */
export const templates = sqliteTable(
  'templates',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    /** The version a send without `template_version` renders. */
    currentVersion: integer('current_version').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('templates_tenant').on(t.tenantId, t.createdAt)],
);

/** Every version of a template, kept: a send may name an earlier one. */
export const templateVersions = sqliteTable(
  'template_versions',
  {
    templateId: text('template_id').notNull(),
    version: integer('version').notNull(),
    subject: text('subject').notNull(),
    text: text('text'),
    html: text('html'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.templateId, t.version] })],
);

// Quota guards (SPEC §7): recipients accepted per quarter hour, and rogue-batch holds.

/**
 * Recipients a tenant queued, per sending domain, lane and quarter hour (every time zone's
 * offset is a multiple of 15 minutes, so a local day is a whole number of buckets). Daily caps
 * sum today's buckets; rogue-batch detection compares the last hour with the trailing week.
 */
export const quotaUsage = sqliteTable(
  'quota_usage',
  {
    tenantId: text('tenant_id').notNull(),
    senderDomain: text('sender_domain').notNull(),
    lane: text('lane').notNull(),
    /** Start of the quarter hour, epoch ms. */
    bucket: integer('bucket').notNull(),
    recipients: integer('recipients').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.bucket, t.senderDomain, t.lane] })],
);

/**
 * A rogue batch held for approval: the tenant's (scope `tenant`, key = tenant id) or one sending
 * domain's (scope `domain`, key = the domain) held jobs, state `held`, wait for its decision.
 */
export const holds = sqliteTable(
  'holds',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    /** pending | approved | rejected */
    status: text('status').notNull(),
    reason: text('reason').notNull(),
    /** What tripped it: the last hour's volume, the threshold and the trailing p95 per hour. */
    volume: integer('volume').notNull(),
    threshold: integer('threshold').notNull(),
    trailingP95: integer('trailing_p95').notNull(),
    createdAt: integer('created_at').notNull(),
    decidedAt: integer('decided_at'),
    decidedBy: text('decided_by'),
    decisionReason: text('decision_reason'),
  },
  (t) => [
    // One open hold per tenant or domain: later sends of the burst join it (the store decides).
    uniqueIndex('holds_pending_target').on(t.tenantId, t.scope, t.key).where(sql`status = 'pending'`),
    index('holds_tenant').on(t.tenantId, t.createdAt),
  ],
);

export type HoldRow = typeof holds.$inferSelect;
