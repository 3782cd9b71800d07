/**
 * The ports the app depends on. `createApp(deps)` knows only these interfaces; the Node entry
 * binds them to libSQL and in-process implementations, the Worker to libSQL over HTTP and
 * Durable Objects. Anything runtime-specific lives behind one of them.
 */
import type { ShapingPolicy } from '../shared/policy/providers.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { DeliveryJobRow, MessageEventRow, MessageRow, PolicyEventRow, SendingDomainRow, SuppressionRow, WarmupProviderState, WarmupRow } from './store/schema.ts';
import type { MessageListQuery, SUPPRESSION_REASONS } from '../shared/api.ts';

export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  scopes: string[];
}

export interface NodeTokenRecord {
  id: string;
  region: string;
  allowedIps: string[];
}

export interface NewMessage {
  message: MessageRow;
  jobs: DeliveryJobRow[];
  events: Omit<MessageEventRow, 'id'>[];
}

export interface IdempotencyClaim {
  key: string;
  requestHash: string;
  status: number;
  response: string;
  /** Replays older than this are treated as new requests (SPEC §2: 24 h). */
  expiresBefore: number;
}

export type AcceptOutcome =
  | { kind: 'accepted' }
  | { kind: 'replay'; status: number; response: string }
  | { kind: 'conflict' };

export interface SigningKeyRecord {
  domain: string;
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  privateKeyEnc: string;
}

export interface ClaimRequest {
  nodeId: string;
  region: string;
  pools: string[];
  limit: number;
  now: number;
  leaseTtlMs: number;
  /** Per lane (and tenant) caps from the scheduler (shared/policy/scheduler.ts), in service order. */
  laneQuotas?: Array<{ lane: string; tenantId?: string; limit: number }>;
  /** (provider, pool) pairs whose budget is spent: left queued. */
  exclude?: Array<{ provider: string; pool: string; domain?: string }>;
}

export interface ClaimedJob extends DeliveryJobRow {
  returnPathDomain: string | null;
  dkimDomain: string | null;
  constraints: Record<string, unknown> | null;
}

export interface JobTransition {
  jobId: string;
  /** Only apply when the job is still in one of these states (guards late or duplicate results). */
  fromStates: string[];
  set: Partial<Pick<DeliveryJobRow, 'state' | 'attempts' | 'nextAttemptAt' | 'leaseId' | 'leaseOwner' | 'leaseExpiresAt' | 'lastReply' | 'lastClass' | 'finishedAt'>>;
  events: Omit<MessageEventRow, 'id'>[];
  /** Written with the events when the transition applies (a hard bounce suppresses its recipient). */
  suppress?: NewSuppression;
}

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

export interface Store {
  /** Cheap round trip used by health checks and the 503 path. */
  ping(): Promise<void>;

  findApiKey(keyHash: string): Promise<ApiKeyRecord | null>;
  createTenant(tenant: { id: string; name: string; now: number }, key: { id: string; keyHash: string; prefix: string; scopes: string[] }): Promise<void>;
  findNodeToken(tokenHash: string): Promise<NodeTokenRecord | null>;
  createNodeToken(input: { id: string; tokenHash: string; region: string; allowedIps: string[]; name?: string | null; now: number }): Promise<void>;

  /** Writes the messages, their jobs and events, and the idempotency record, atomically. */
  acceptMessages(tenantId: string, items: NewMessage[], idempotency: IdempotencyClaim | null): Promise<AcceptOutcome>;
  getMessage(tenantId: string, id: string): Promise<{ message: MessageRow; jobs: DeliveryJobRow[]; events: MessageEventRow[] } | null>;
  listMessages(tenantId: string, query: MessageListQuery): Promise<Array<MessageRow & { status: string; recipients: number }>>;
  /** Queued (not yet final) jobs per lane for a tenant: feeds admission control. */
  backlog(tenantId: string | null): Promise<Array<{ lane: string; tenantId: string; queued: number }>>;

  knownPools(): Promise<Array<{ name: string; tenantId: string | null }>>;
  ensurePool(name: string, tenantId: string | null, now: number): Promise<void>;

  createDomain(row: SendingDomainRow): Promise<'created' | 'exists'>;
  listDomains(tenantId: string): Promise<SendingDomainRow[]>;
  findDomain(tenantId: string, domain: string): Promise<SendingDomainRow | null>;
  signingKeys(domains: Array<{ tenantId: string; domain: string }>): Promise<Array<SigningKeyRecord & { tenantId: string }>>;

  upsertNode(node: { id: string; region: string; version: string; ips: Array<{ address: string; pool: string; ehlo: string }>; capacity: number; now: number }): Promise<void>;
  /** Atomically moves ready jobs to `leased` for this node; one job is never leased twice. */
  claimJobs(req: ClaimRequest): Promise<ClaimedJob[]>;
  messageBodies(ids: string[]): Promise<Array<{ id: string; raw: string }>>;
  extendLeases(nodeId: string, leaseIds: string[], expiresAt: number): Promise<void>;
  jobsByIds(ids: string[]): Promise<DeliveryJobRow[]>;
  applyTransitions(transitions: JobTransition[]): Promise<string[]>;
  /** Leased jobs the shaper held back go back to the queue (only those still leased); returns those. */
  requeueHeld(held: HeldJob[], now: number): Promise<string[]>;
  /** Returns expired leases to the queue and records why. */
  expireLeases(now: number): Promise<number>;
  /** Ready jobs that no connected node can take (e.g. their region has no node). */
  readyJobsOutside(regions: string[], now: number, limit: number): Promise<DeliveryJobRow[]>;
  appendEvents(events: Omit<MessageEventRow, 'id'>[]): Promise<void>;
  getTenantPolicy(tenantId: string): Promise<{ document: Record<string, unknown>; version: number; updatedAt: number } | null>;
  putTenantPolicy(tenantId: string, document: Record<string, unknown>, updatedBy: string, now: number): Promise<number>;
  /** Recipients a tenant queued in a lane since a time: daily caps. */
  countJobsSince(tenantId: string, lane: string, since: number): Promise<number>;
  appendPolicyEvents(events: Omit<PolicyEventRow, 'id'>[]): Promise<void>;
  listPolicyEvents(since: number, limit: number): Promise<PolicyEventRow[]>;

  // Warm-ups (edge/hub/warmup.ts, edge/routes/warmups.ts)
  /** 'exists' when the pool or IP already has an active warm-up (a unique index decides). */
  createWarmup(row: WarmupRow): Promise<'created' | 'exists'>;
  getWarmup(id: string): Promise<WarmupRow | null>;
  listWarmups(filter?: { status?: string; scope?: string; key?: string }): Promise<WarmupRow[]>;
  /** The gate's batched write-back of days and counts; only rows still active are touched. */
  saveWarmupStates(updates: WarmupStateUpdate[]): Promise<void>;
  /** Ends an active warm-up (stopped by hand); false when it was no longer active. */
  endWarmup(id: string, status: 'stopped' | 'complete', now: number): Promise<boolean>;
  /**
   * Jobs the hub held back (last_class 'warmup' or 'shaped'), in a pool or of a sender domain,
   * due now: the limit that spaced them out is gone (a new plan day, a breaker closed).
   */
  releaseHeld(held: HeldBy, now: number): Promise<number>;
  /** Transitions of one policy subject (e.g. scope 'warmup', key = warm-up id), newest first. */
  listPolicyEventsFor(scope: string, key: string, limit: number): Promise<PolicyEventRow[]>;
  // Feedback and suppression (SPEC §5)
  /** Inserts; an address already listed keeps its first reason. Returns the addresses newly added. */
  addSuppressions(rows: NewSuppression[]): Promise<string[]>;
  /** The listed ones among these addresses (lower-cased) for a tenant. */
  findSuppressions(tenantId: string, addresses: string[]): Promise<SuppressionRow[]>;
  listSuppressions(tenantId: string, query: SuppressionQuery): Promise<SuppressionRow[]>;
  deleteSuppression(tenantId: string, address: string): Promise<boolean>;
  /** A message (any tenant) and its jobs: feedback is tied to a job before the tenant is known. */
  findMessageJobs(messageId: string): Promise<{ message: Pick<MessageRow, 'id' | 'tenantId' | 'messageIdHeader' | 'lane' | 'fromDomain'>; jobs: DeliveryJobRow[] } | null>;
  /** Events and suppressions of one feedback report, in one transaction. */
  recordFeedback(input: { events: Omit<MessageEventRow, 'id'>[]; suppressions: NewSuppression[] }): Promise<string[]>;
  /** Events of one job of a type (de-duplicates feedback reports). */
  jobEvents(messageId: string, jobId: string, types: string[]): Promise<MessageEventRow[]>;
  /** The newest policy event for any of these keys in a scope (an outreach pause is one). */
  latestPolicyEvent(scope: string, keys: string[]): Promise<PolicyEventRow | null>;
}

export interface HeldJob {
  jobId: string;
  nextAttemptAt: number;
  lastClass: 'warmup' | 'shaped';
  /** The trace entry, when this hold is news for the job. */
  event?: Omit<MessageEventRow, 'id'>;
}

export interface HeldBy {
  lastClass: 'warmup' | 'shaped';
  pool?: string | null;
  senderDomain?: string;
}

export interface WarmupStateUpdate {
  id: string;
  dayStart: number;
  providers: Record<string, WarmupProviderState>;
  /** 'complete' when every provider reached the plan's maximum. */
  status?: 'active' | 'complete';
  now: number;
}

/** A warm-up as the hub's gate holds it now: the store's row may lag by one hub tick. */
export interface LiveWarmup {
  id: string;
  status: string;
  dayStart: number;
  providers: Record<string, WarmupProviderState>;
}

export interface TakeResult {
  granted: boolean;
  /** Tokens left after this take (0 when refused). */
  remaining: number;
  /** When refused: how long until `n` tokens are there. */
  retryAfterMs: number;
}

export interface BucketLimit {
  ratePerSec: number;
  burst: number;
}

/** Token buckets shared by every edge instance (Durable Objects on Workers, memory on Node). */
export interface Counters {
  take(name: string, n: number, limit: BucketLimit): Promise<TakeResult>;
}

export interface NodeSummary {
  nodeId: string;
  region: string;
  version: string;
  ips: Array<{ address: string; pool: string; ehlo: string }>;
  credits: number;
  leased: number;
  connectedAt: number;
}

/** The app's view of the lease hub: node connections are runtime-specific, work signals are not. */
export interface LeaseHubPort {
  /** New work is committed; wake nodes waiting with credits. */
  notifyWork(region: string | null): void;
  /** Takes the node's upgrade request (Worker: forwards to the region's Durable Object). */
  connect(request: Request, region: string): Promise<Response>;
  nodes(): Promise<NodeSummary[]>;
  /** Live shaping state (breakers, adaptive rates, suspended IPs) where the hub keeps it. */
  reputation?(): Promise<{ breakers: Array<Record<string, unknown>>; rates: Array<Record<string, unknown>>; suspended_ips: Array<Record<string, unknown>> }>;
  /** Live warm-up counts where this hub enforces warm-ups (newer than the store's row). */
  warmups?(): Promise<LiveWarmup[]>;
  /** A warm-up was started or stopped through the API: the hub reloads them now. */
  warmupsChanged?(): Promise<void>;
  /**
   * A complaint or a late (async) bounce for a delivered job: fed to the breakers of its pool
   * and sender domain (and the outreach guard), where the hub keeps them. Optional: a hub that
   * does not take it yet (the Worker's) leaves the report recorded and suppressed, unsignalled.
   */
  feedback?(signal: FeedbackSignal): Promise<void>;
}

/**
 * Whether a recipient domain can receive mail at all: an MX set, or its own address as the
 * implicit MX (RFC 5321 §5.1). false for NXDOMAIN, a null MX (RFC 7505) or no address; null when
 * DNS could not say in time — a lookup failure is never a reason to refuse mail.
 */
export interface MailDomains {
  acceptsMail(domain: string): Promise<boolean | null>;
}

export interface FeedbackSignal {
  kind: 'complaint' | 'bounce';
  job: Pick<DeliveryJobRow, 'id' | 'tenantId' | 'provider' | 'domain' | 'pool' | 'senderDomain' | 'lane'>;
  at: number;
  /** Outreach guard thresholds from the tenant's policy (outreach jobs only): per tenant, per sender domain. */
  outreach?: { tenant: OutreachPauseRule; domain: OutreachPauseRule };
}

export interface OutreachPauseRule {
  pauseOnComplaintRate: number;
  pauseMinVolume: number;
}

export interface Secrets {
  /** Encrypts a DKIM private key for storage. */
  seal(plaintext: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

export interface AppConfig {
  maxMessageBytes: number;
  /** Default per-tenant API rate, messages per second, and its burst. */
  tenantRatePerSec: number;
  tenantBurst: number;
  /** Queued jobs per tenant and lane past which new sends get 429. */
  laneBacklogLimit: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  /** Whether the from-domain must be DNS-verified, not only registered. */
  requireVerifiedDomain: boolean;
  /**
   * The provider table in force (the shipped one with the operator's overrides): accept
   * assigns each recipient its provider from it, so a provider the operator adds is matched.
   */
  shapingPolicy?: ShapingPolicy;
}

export interface AppDeps {
  store: Store;
  counters: Counters;
  hub: LeaseHubPort;
  secrets: Secrets;
  /** Recipient-domain checks at accept (outreach verification); absent: not checked. */
  mailDomains?: MailDomains;
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}

export type { Logger };
