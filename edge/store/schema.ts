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
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.keyHash)],
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
  },
  (t) => [uniqueIndex('node_tokens_hash').on(t.tokenHash)],
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
