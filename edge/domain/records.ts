/**
 * The records the app works with: a message, its delivery jobs and trace events, a sending
 * domain, a policy event, a suppression, a warm-up. edge/ owns these shapes; the ports speak
 * them and every store maps its rows onto them. The libSQL store's rows are these exactly
 * (edge/store/records-match-schema.ts fails the typecheck when the schema drifts from them).
 * Times are epoch milliseconds.
 */

export interface MessageRecord {
  id: string;
  tenantId: string;
  fromAddress: string;
  fromDomain: string;
  subject: string;
  lane: string;
  pool: string;
  /** The RFC 5322 message as accepted, CRLF line ends, stored once however many recipients. */
  raw: string;
  sizeBytes: number;
  messageIdHeader: string;
  tags: Record<string, string> | null;
  constraints: Record<string, unknown> | null;
  sendAt: number | null;
  createdAt: number;
}

/** One recipient of a message: what a node leases, delivers and reports on. */
export interface DeliveryJobRecord {
  id: string;
  messageId: string;
  tenantId: string;
  recipient: string;
  /** Which header the recipient came from: to, cc or bcc. */
  recipientKind: string;
  domain: string;
  /** The From domain: its circuit breaker and budgets apply to this job. */
  senderDomain: string;
  provider: string;
  pool: string;
  lane: string;
  /** Region constraint; null lets any region's nodes take the job. */
  region: string | null;
  /** Stable across retries and nodes: message id + recipient; the node journal keys on it. */
  dedupKey: string;
  /** queued | leased | delivered | bounced | failed | suppressed */
  state: string;
  attempts: number;
  nextAttemptAt: number;
  leaseId: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastReply: string | null;
  lastClass: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** The state fields of a job that has never been tried: queued, no lease, no reply (accept and replay start here). */
export function freshJobState(now: number, nextAttemptAt: number) {
  return {
    state: 'queued',
    attempts: 0,
    nextAttemptAt,
    leaseId: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    lastReply: null,
    lastClass: null,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  } satisfies Partial<DeliveryJobRecord>;
}

/** A state change of a message or one of its jobs; in id order they answer "why". */
export interface MessageEventRecord {
  id: number;
  messageId: string;
  jobId: string | null;
  type: string;
  at: number;
  data: Record<string, unknown> | null;
}

/** A state change of a pool, sender domain, provider budget, warm-up or outreach guard. */
export interface PolicyEventRecord {
  id: number;
  scope: string;
  key: string;
  type: string;
  fromState: string | null;
  toState: string | null;
  reason: string;
  at: number;
  data: Record<string, unknown> | null;
}

export interface SendingDomainRecord {
  id: string;
  tenantId: string;
  domain: string;
  dkimSelector: string;
  dkimAlgorithm: string;
  /** PKCS#8 PEM sealed by the Secrets port; never stored in the clear. */
  dkimPrivateKeyEnc: string;
  /** The public key as published in the DKIM TXT record's p= tag. */
  dkimPublicKey: string;
  /** Domain of the VERP return path (RFC 5321 MAIL FROM); bounces come back here. */
  returnPathDomain: string;
  /** pending | verified | failed */
  status: string;
  createdAt: number;
  /** This tenant's ownership token (`_postlane.<domain>` TXT `postlane-verify=<token>`). */
  verifyToken: string | null;
  /** The last DNS check (edge/services/domain-check.ts). */
  checks: DomainChecks | null;
  checkedAt: number | null;
  verifiedAt: number | null;
}

/** The state of one DNS record a sending domain publishes, as the last check saw it. */
export interface RecordCheck {
  /** ok; missing (no record); mismatch (a record, not the right one); error (the lookup failed); skipped (not configured). */
  status: 'ok' | 'missing' | 'mismatch' | 'error' | 'skipped';
  /** What DNS holds (the relevant record), when it holds one. */
  found?: string | null;
  /** The lookup error code (ESERVFAIL, ETIMEOUT, …) when status is error. */
  error?: string;
}

export type DomainRecordPurpose = 'dkim' | 'ownership' | 'spf' | 'dmarc' | 'return_path';

export interface DomainChecks {
  records: Record<DomainRecordPurpose, RecordCheck>;
  /** Why the last check left the status as it was (a lookup failure, another tenant's claim). */
  error: string | null;
}

/** An address a tenant must not send to again; the first reason stands. */
export interface SuppressionRecord {
  id: number;
  tenantId: string;
  /** Lower-cased addr-spec. */
  address: string;
  /** hard_bounce | complaint | unsubscribe | manual */
  reason: string;
  /** What said so: the SMTP reply, the report (feedback type, reporter), or the API caller's note. */
  source: string | null;
  messageId: string | null;
  jobId: string | null;
  createdAt: number;
}

/** One provider's progress in a warm-up. */
export interface WarmupProviderState {
  /** Plan day, 1-based. */
  day: number;
  /** Sends granted since the current day's start (a grant counts, whatever its result). */
  sentToday: number;
  lastSendAt: number | null;
  /** Earliest time of the next send: the randomised spacing slot drawn at the last grant. */
  nextAt: number | null;
  /** Results of today's sends: what the day's decision is made from. */
  signals: { sent: number; bounced: number; blocked: number; complained: number };
  /** The plan reached its maximum for this provider: the provider table's rate rules now. */
  complete: boolean;
  lastDecision: { decision: string; from: number; to: number; reason: string; at: number } | null;
}

/**
 * A warm-up of a pool (scope `pool`, key = pool name) or of one source IP (scope `ip`, key = the
 * address, pool = the pool it serves), and where it stands.
 */
export interface WarmupRecord {
  id: string;
  scope: string;
  key: string;
  pool: string | null;
  /** The lane whose policy plan this warm-up started from; null = the policy defaults. */
  lane: string | null;
  /** The operator's plan overrides as given. */
  overrides: Record<string, unknown>;
  /** The full plan, fixed when the warm-up starts. */
  plan: Record<string, unknown>;
  /** active | complete | stopped */
  status: string;
  startedAt: number;
  /** Start of the current plan day; the day rolls over 24 h later. */
  dayStart: number;
  providers: Record<string, WarmupProviderState>;
  endedAt: number | null;
  createdBy: string | null;
  updatedAt: number;
}
