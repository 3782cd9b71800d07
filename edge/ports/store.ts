/**
 * The Store port, cut by concern. Each consumer asks for the concern it uses (the hub's warm-up
 * gate needs warm-ups and held-job releases, the health route a ping); the composition root
 * binds `Store`, all of them, to one implementation (edge/store/libsql-store.ts).
 */
import type { MessageListQuery, SUPPRESSION_REASONS } from '../../shared/api.ts';
import type {
  DeliveryJobRecord,
  DomainChecks,
  MessageEventRecord,
  MessageRecord,
  PolicyEventRecord,
  SendingDomainRecord,
  SuppressionRecord,
  WarmupProviderState,
  WarmupRecord,
} from '../domain/records.ts';

import type { WebhookStore } from './webhooks.ts';
import type { AuditStore, ConfigStore, KeyStore, PoolStore } from './control.ts';

/** Audit log, keys and tokens, pools and IPs, configuration versions: edge/ports/control.ts. */
export type * from './control.ts';
import type { TemplateStore } from './templates.ts';
import type { TrackingStore } from './tracking.ts';
import type { AlertStore, StatsStore } from './stats.ts';

import type { DeadLetterStore, QuotaStore } from './operator.ts';

/** Events get their id (their order) from the store. */
export type NewMessageEvent = Omit<MessageEventRecord, 'id'>;
export type NewPolicyEvent = Omit<PolicyEventRecord, 'id'>;

// --- Tenants, API keys, node tokens ---------------------------------------------------------

export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  scopes: string[];
  /** The key's name (the audit log shows it beside the id). */
  name?: string | null;
  /** A rotated key stays valid until this time (the overlap); null or absent: no end set. */
  expiresAt?: number | null;
}

export interface NodeTokenRecord {
  id: string;
  region: string;
  allowedIps: string[];
}

export interface NewTenant {
  id: string;
  name: string;
  now: number;
}

export interface NewApiKey {
  id: string;
  keyHash: string;
  prefix: string;
  scopes: string[];
}

export interface NewNodeToken {
  id: string;
  tokenHash: string;
  region: string;
  allowedIps: string[];
  name?: string | null;
  now: number;
}

export interface TenantStore {
  findApiKey(keyHash: string): Promise<ApiKeyRecord | null>;
  /** The same record by key id (a dashboard session names its key): null when unknown or revoked. */
  findApiKeyById(keyId: string): Promise<ApiKeyRecord | null>;
  createTenant(tenant: NewTenant, key: NewApiKey): Promise<void>;
  findNodeToken(tokenHash: string): Promise<NodeTokenRecord | null>;
  createNodeToken(input: NewNodeToken): Promise<void>;
}

// --- Messages and their traces --------------------------------------------------------------

export interface NewMessage {
  message: MessageRecord;
  jobs: DeliveryJobRecord[];
  events: NewMessageEvent[];
}

export interface IdempotencyClaim {
  key: string;
  requestHash: string;
  status: number;
  response: string;
  /** Replays older than this are treated as new requests (SPEC §2: 24 h). */
  expiresBefore: number;
}

/** A committed idempotency key: what its first request hashed to and was answered. */
export interface IdempotencyRecord {
  requestHash: string;
  status: number;
  response: string;
  createdAt: number;
}

export type AcceptOutcome =
  | { kind: 'accepted' }
  | { kind: 'replay'; status: number; response: string }
  | { kind: 'conflict' };

export interface MessageWithTrace {
  message: MessageRecord;
  jobs: DeliveryJobRecord[];
  events: MessageEventRecord[];
}

export type MessageSummary = MessageRecord & { status: string; recipients: number };

export interface LaneBacklog {
  lane: string;
  tenantId: string;
  queued: number;
}

/** A message (any tenant) and its jobs, as feedback needs them to find the job a report is about. */
export interface MessageJobs {
  message: Pick<MessageRecord, 'id' | 'tenantId' | 'messageIdHeader' | 'lane' | 'fromDomain'>;
  jobs: DeliveryJobRecord[];
}

export interface MessageStore {
  /** Writes the messages, their jobs and events, and the idempotency record, atomically. */
  acceptMessages(tenantId: string, items: NewMessage[], idempotency: IdempotencyClaim | null): Promise<AcceptOutcome>;
  /** The tenant's committed idempotency key, if any (any age: the caller applies the replay window). */
  findIdempotent(tenantId: string, key: string): Promise<IdempotencyRecord | null>;
  getMessage(tenantId: string, id: string): Promise<MessageWithTrace | null>;
  listMessages(tenantId: string, query: MessageListQuery): Promise<MessageSummary[]>;
  /** Queued (not yet final) jobs per lane for a tenant: feeds admission control. */
  backlog(tenantId: string | null): Promise<LaneBacklog[]>;
  /** Recipients a tenant queued in a lane since a time: daily caps. */
  countJobsSince(tenantId: string, lane: string, since: number): Promise<number>;
  messageBodies(ids: string[]): Promise<Array<{ id: string; raw: string }>>;
  appendEvents(events: NewMessageEvent[]): Promise<void>;
  /** Events of one job of a type (de-duplicates feedback reports). */
  jobEvents(messageId: string, jobId: string, types: string[]): Promise<MessageEventRecord[]>;
  /** Feedback is tied to a job before the tenant is known. */
  findMessageJobs(messageId: string): Promise<MessageJobs | null>;
}

export interface ScheduleStore {
  /**
   * Cancels or reschedules a message none of whose jobs was ever leased, in one transaction:
   * guarded by every job being `queued` (or `suppressed`) with no attempt, so a claim that got
   * there first wins and this answers `too_late`. Cancel moves the queued jobs to `canceled`;
   * reschedule moves their `next_attempt_at` and the message's `send_at`. The event is written
   * only when the change applied.
   */
  changeSchedule(change: ScheduleChange): Promise<ScheduleOutcome>;
}

export interface ScheduleChange {
  tenantId: string;
  messageId: string;
  now: number;
  /** `reschedule` sets this as send_at (the jobs wait until max(sendAt, now)). */
  action: { kind: 'cancel' } | { kind: 'reschedule'; sendAt: number };
  /** The trace entry (`canceled` / `rescheduled`), written with the change. */
  event: NewMessageEvent;
}

export type ScheduleOutcome =
  | { kind: 'applied'; recipients: number }
  | { kind: 'not_found' }
  /** A job was leased (or tried) already, or none is queued: nothing changed. */
  | { kind: 'too_late'; states: string[] };

// --- Leases: nodes, pools, claims and job state changes -------------------------------------

export interface NodeIp {
  address: string;
  pool: string;
  ehlo: string;
}

export interface NodeRegistration {
  id: string;
  region: string;
  version: string;
  ips: NodeIp[];
  capacity: number;
  now: number;
}

export interface PoolRecord {
  name: string;
  /** A dedicated pool belongs to one tenant; shared pools have none. */
  tenantId: string | null;
}

export interface ClaimRequest {
  nodeId: string;
  region: string;
  pools: string[];
  /** Dedicated pools among `pools` → their tenant: only that tenant's jobs are claimed from them. */
  poolOwners?: Record<string, string>;
  limit: number;
  now: number;
  leaseTtlMs: number;
  /** Per lane (and tenant) caps from the scheduler (shared/policy/scheduler.ts), in service order. */
  laneQuotas?: Array<{ lane: string; tenantId?: string; limit: number }>;
  /** (provider, pool) pairs whose budget is spent: left queued. */
  exclude?: Array<{ provider: string; pool: string; domain?: string }>;
}

export interface ClaimedJob extends DeliveryJobRecord {
  returnPathDomain: string | null;
  dkimDomain: string | null;
  /** The signing key of the job's own tenant's record of dkimDomain (shared/protocol.ts dkimKeyIdOf). */
  dkimKeyId: string | null;
  constraints: Record<string, unknown> | null;
}

export interface JobTransition {
  jobId: string;
  /** Only apply when the job is still in one of these states (guards late or duplicate results). */
  fromStates: string[];
  /**
   * And only while the job's row still holds exactly these values (compared with `IS`): a node's
   * result carries its lease (`leaseId`, `leaseOwner`), so a stale or forged result loses to the
   * honest one; `updatedAt`/`attempts` pin a row read earlier (optimistic concurrency).
   */
  match?: Partial<Pick<DeliveryJobRecord, 'leaseId' | 'leaseOwner' | 'updatedAt' | 'attempts'>>;
  set: Partial<Pick<DeliveryJobRecord, 'state' | 'attempts' | 'nextAttemptAt' | 'leaseId' | 'leaseOwner' | 'leaseExpiresAt' | 'lastReply' | 'lastClass' | 'finishedAt'>>;
  events: NewMessageEvent[];
  /** Written with the events when the transition applies (a hard bounce suppresses its recipient). */
  suppress?: NewSuppression;
}

export interface ExtendedLease {
  leaseId: string;
  leaseExpiresAt: number;
}

export interface HeldJob {
  jobId: string;
  nextAttemptAt: number;
  lastClass: 'warmup' | 'shaped';
  /** The trace entry, when this hold is news for the job. */
  event?: NewMessageEvent;
}

export interface HeldBy {
  lastClass: 'warmup' | 'shaped';
  pool?: string | null;
  senderDomain?: string;
  /** With senderDomain: that tenant's jobs only (a sender domain's breaker is per tenant). */
  tenantId?: string;
}

export interface LeaseStore {
  upsertNode(node: NodeRegistration): Promise<void>;
  knownPools(): Promise<PoolRecord[]>;
  ensurePool(name: string, tenantId: string | null, now: number): Promise<void>;
  /** Atomically moves ready jobs to `leased` for this node; one job is never leased twice. */
  claimJobs(req: ClaimRequest): Promise<ClaimedJob[]>;
  /** Extends the leases still held by `nodeId` (state leased, lease_owner = nodeId); returns those. */
  extendLeases(nodeId: string, leaseIds: string[], expiresAt: number): Promise<ExtendedLease[]>;
  /**
   * Leases `nodeId` gives back unstarted: still leased to it under these lease ids, they return
   * to the queue at `nextAttemptAt` without counting the attempt, each with a `lease_released`
   * event. Returns the job ids that were released.
   */
  releaseLeases(nodeId: string, leases: Array<{ jobId: string; leaseId: string }>, nextAttemptAt: number, reason: string, now: number): Promise<string[]>;
  jobsByIds(ids: string[]): Promise<DeliveryJobRecord[]>;
  /** Returns the ids of the jobs whose transition applied; only their events are written. */
  applyTransitions(transitions: JobTransition[]): Promise<string[]>;
  /** Leased jobs the shaper held back go back to the queue (only those still leased); returns those. */
  requeueHeld(held: HeldJob[], now: number): Promise<string[]>;
  /**
   * Jobs the hub held back (last_class 'warmup' or 'shaped'), in a pool or of a sender domain,
   * due now: the limit that spaced them out is gone (a new plan day, a breaker closed).
   */
  releaseHeld(held: HeldBy, now: number): Promise<number>;
  /** Returns expired leases to the queue and records why. */
  expireLeases(now: number): Promise<number>;
  /** Ready jobs that no connected node can take (e.g. their region has no node). */
  readyJobsOutside(regions: string[], now: number, limit: number): Promise<DeliveryJobRecord[]>;
}

// --- Tenant policies and policy events ------------------------------------------------------

export interface TenantPolicyRecord {
  document: Record<string, unknown>;
  version: number;
  updatedAt: number;
}

export interface PolicyStore {
  getTenantPolicy(tenantId: string): Promise<TenantPolicyRecord | null>;
  /** Returns the new version. */
  putTenantPolicy(tenantId: string, document: Record<string, unknown>, updatedBy: string, now: number): Promise<number>;
  appendPolicyEvents(events: NewPolicyEvent[]): Promise<void>;
  /** Newest first. */
  listPolicyEvents(since: number, limit: number): Promise<PolicyEventRecord[]>;
  /** Transitions of one policy subject (e.g. scope 'warmup', key = warm-up id), newest first. */
  listPolicyEventsFor(scope: string, key: string, limit: number): Promise<PolicyEventRecord[]>;
  /** The newest policy event for any of these keys in a scope (an outreach pause is one). */
  latestPolicyEvent(scope: string, keys: string[]): Promise<PolicyEventRecord | null>;
}

// --- Warm-ups (edge/hub/warmup.ts, edge/routes/warmups.ts) ----------------------------------

export interface WarmupFilter {
  status?: string;
  scope?: string;
  key?: string;
}

export interface WarmupStateUpdate {
  id: string;
  dayStart: number;
  providers: Record<string, WarmupProviderState>;
  /** 'complete' when every provider reached the plan's maximum. */
  status?: 'active' | 'complete';
  now: number;
}

export interface WarmupStore {
  /** 'exists' when the pool or IP already has an active warm-up (a unique index decides). */
  createWarmup(row: WarmupRecord): Promise<'created' | 'exists'>;
  getWarmup(id: string): Promise<WarmupRecord | null>;
  /** Newest first. */
  listWarmups(filter?: WarmupFilter): Promise<WarmupRecord[]>;
  /** The gate's batched write-back of days and counts; only rows still active are touched. */
  saveWarmupStates(updates: WarmupStateUpdate[]): Promise<void>;
  /** Ends an active warm-up; false when it was no longer active. */
  endWarmup(id: string, status: 'stopped' | 'complete', now: number): Promise<boolean>;
}

// --- Feedback and suppression (SPEC §5) -----------------------------------------------------

export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface NewSuppression {
  tenantId: string;
  /** Lower-cased. */
  address: string;
  reason: SuppressionReason;
  source: string | null;
  messageId: string | null;
  jobId: string | null;
  createdAt: number;
}

export interface SuppressionQuery {
  reason?: SuppressionReason;
  /** Part of the address (case-insensitive). */
  contains?: string;
  /** Cursor: only rows older than this id (newest first). */
  before?: number;
  limit: number;
}

/** What one feedback report writes. */
export interface FeedbackRecording {
  events: NewMessageEvent[];
  suppressions: NewSuppression[];
}

export interface SuppressionStore {
  /** Inserts; an address already listed keeps its first reason. Returns the addresses newly added. */
  addSuppressions(rows: NewSuppression[]): Promise<string[]>;
  /** The listed ones among these addresses (lower-cased) for a tenant. */
  findSuppressions(tenantId: string, addresses: string[]): Promise<SuppressionRecord[]>;
  /** Newest first. */
  listSuppressions(tenantId: string, query: SuppressionQuery): Promise<SuppressionRecord[]>;
  deleteSuppression(tenantId: string, address: string): Promise<boolean>;
  /** Events and suppressions of one feedback report, in one transaction; returns the addresses newly added. */
  recordFeedback(input: FeedbackRecording): Promise<string[]>;
}

// --- Sending domains and their DKIM keys ----------------------------------------------------

export interface SigningKeyRecord {
  domain: string;
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  privateKeyEnc: string;
}

/** One DNS check's outcome for a domain, written with its policy event (if the status moved). */
export interface DomainCheckUpdate {
  id: string;
  tenantId: string;
  /** Applies only while the row still has this status (a concurrent check wins otherwise). */
  fromStatus: string;
  status: string;
  checks: DomainChecks;
  checkedAt: number;
  verifiedAt: number | null;
  events: NewPolicyEvent[];
}

export interface DomainStore {
  createDomain(row: SendingDomainRecord): Promise<'created' | 'exists'>;
  /**
   * Removes the tenant's domain record and its DKIM key, unless mail from the domain still waits
   * to be sent (a queued, leased or held job): it would leave unsigned. One guarded statement.
   */
  deleteDomain(tenantId: string, id: string): Promise<'deleted' | 'not_found' | 'in_use'>;
  listDomains(tenantId: string): Promise<SendingDomainRecord[]>;
  findDomain(tenantId: string, domain: string): Promise<SendingDomainRecord | null>;
  getDomain(tenantId: string, id: string): Promise<SendingDomainRecord | null>;
  /** The tenant holding this domain verified, if any (at most one: a unique index decides). */
  verifiedOwner(domain: string): Promise<{ tenantId: string; id: string } | null>;
  /**
   * Saves a check: 'saved'; 'stale' when the row's status is no longer `fromStatus`; 'taken' when
   * the update would verify a domain another tenant holds verified.
   */
  saveDomainCheck(update: DomainCheckUpdate): Promise<'saved' | 'stale' | 'taken'>;
  /** Domains of every tenant last checked before a time (never-checked first), for the schedule. */
  domainsDue(checkedBefore: number, limit: number): Promise<SendingDomainRecord[]>;
  /** Sets the ownership token of a row that has none (rows from before verification); returns the token in force. */
  ensureVerifyToken(id: string, token: string): Promise<string>;
  signingKeys(domains: Array<{ tenantId: string; domain: string }>): Promise<Array<SigningKeyRecord & { tenantId: string }>>;
}

export interface StoreHealth {
  /** Cheap round trip used by health checks and the 503 path. */
  ping(): Promise<void>;
}

export type Store = StoreHealth & DeadLetterStore & QuotaStore & AuditStore & KeyStore & PoolStore & ConfigStore & TenantStore & MessageStore & ScheduleStore & LeaseStore & PolicyStore & WarmupStore & SuppressionStore & DomainStore & WebhookStore & TemplateStore & TrackingStore & StatsStore & AlertStore;
