/**
 * The Store port's operator-control concerns (SPEC §7): dead-lettered jobs and their replay,
 * quota usage, and rogue-batch holds. Part of `Store` (./store.ts).
 */
import type { DeliveryJobRecord, MessageEventRecord, MessageRecord } from '../domain/records.ts';
import type { NewMessageEvent } from './store.ts';

// --- Dead letters -----------------------------------------------------------------------------

/** Job states a dead letter is in: retries spent (`failed`) or refused for good (`bounced`). */
export const DEAD_STATES = ['failed', 'bounced'] as const;

export interface DeadLetterQuery {
  /** The reply class of the last attempt (shared/policy/reply-classes.ts), e.g. hard_bounce, block. */
  reasonClass?: string;
  provider?: string;
  /** Recipient domain. */
  domain?: string;
  senderDomain?: string;
  pool?: string;
  lane?: string;
  /** finished_at bounds, epoch ms. */
  since?: number;
  until?: number;
  /** Only those replayed (true) or not yet replayed (false). */
  replayed?: boolean;
  /** Keyset cursor: rows after this job in the list's order (finished_at desc, id desc). */
  after?: string;
  limit: number;
}

export interface DeadLetterRecord {
  job: DeliveryJobRecord;
  message: Pick<MessageRecord, 'id' | 'fromAddress' | 'fromDomain' | 'subject' | 'lane' | 'pool' | 'sizeBytes' | 'createdAt' | 'constraints'>;
  /** The job that replayed this one, if any. */
  replayJobId: string | null;
  /** The job's own trace (and the message's events without a job), in order. */
  events: MessageEventRecord[];
}

/** One original message's replay: a new message (same content) with one job per dead letter. */
export interface ReplayDraft {
  message: MessageRecord;
  jobs: Array<DeliveryJobRecord & { originalJobId: string }>;
  /** `replay_of` on the new message, `replayed` on the originals. */
  events: NewMessageEvent[];
}

export interface ReplayOutcome {
  replayed: Array<{ originalJobId: string; jobId: string; messageId: string }>;
  /** Originals already replayed (by an earlier or a racing request): the replay key is unique. */
  already: Array<{ originalJobId: string; jobId: string | null }>;
}

export interface DeadLetterStore {
  /** Newest first. */
  listDeadJobs(tenantId: string, query: DeadLetterQuery): Promise<DeadLetterRecord[]>;
  /** These jobs of the tenant, if dead-lettered. */
  deadJobsByIds(tenantId: string, ids: string[]): Promise<DeadLetterRecord[]>;
  /** The message as accepted (RFC 5322), for an audited reveal and for replay. */
  messageRaw(tenantId: string, messageId: string): Promise<string | null>;
  /** Writes the replays; originals already replayed are skipped (a unique replay key per original). */
  replayJobs(tenantId: string, drafts: ReplayDraft[]): Promise<ReplayOutcome>;
}

/** The replay key of an original job: the new job's dedup key, unique in the store. */
export const replayKeyOf = (originalJobId: string) => `replay:${originalJobId}`;

// --- Quota usage and holds --------------------------------------------------------------------

export interface QuotaUsageRow {
  tenantId: string;
  senderDomain: string;
  lane: string;
  /** Quarter-hour start, epoch ms (shared/policy/quota.ts). */
  bucket: number;
  recipients: number;
}

export type HoldScope = 'tenant' | 'domain';
export type HoldStatus = 'pending' | 'approved' | 'rejected';

export interface HoldRecord {
  id: string;
  tenantId: string;
  scope: HoldScope;
  key: string;
  status: HoldStatus;
  reason: string;
  volume: number;
  threshold: number;
  trailingP95: number;
  createdAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  decisionReason: string | null;
}

export interface HoldDecision {
  tenantId: string;
  id: string;
  status: 'approved' | 'rejected';
  by: string;
  reason: string | null;
  now: number;
}

export interface QuotaStore {
  /** Adds recipients to their buckets. */
  addQuotaUsage(rows: QuotaUsageRow[]): Promise<void>;
  /** A tenant's buckets from `since` on. */
  quotaUsage(tenantId: string, since: number): Promise<QuotaUsageRow[]>;
  /** Opens a hold, or returns the pending one for the same tenant, scope and key (a unique index decides). */
  openHold(row: HoldRecord): Promise<HoldRecord>;
  /** Pending holds, and holds decided since `decidedSince`, of a tenant. */
  activeHolds(tenantId: string, decidedSince: number): Promise<HoldRecord[]>;
  /** Newest first; `before` is a hold id (keyset). */
  listHolds(tenantId: string, query: { status?: HoldStatus; before?: string; limit: number }): Promise<HoldRecord[]>;
  getHold(tenantId: string, id: string): Promise<HoldRecord | null>;
  /** Held jobs per hold, by id. */
  heldJobCounts(holds: HoldRecord[]): Promise<Map<string, number>>;
  /**
   * Decides a pending hold: its held jobs are queued (approved) or rejected, each with its trace
   * event, in one transaction. Null when the hold is not pending (decided already, or unknown).
   */
  decideHold(decision: HoldDecision): Promise<{ hold: HoldRecord; jobs: number; regions: Array<string | null> } | null>;
}
