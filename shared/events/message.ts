/**
 * The message event catalog: every entry a message's trace can hold (`message_events`), with
 * the schema of its `data`. Emission sites build events only through `messageEvent`, so a new
 * event type is added here and nowhere else; `GET /v1/messages/{id}` documents the union.
 *
 * Schemas describe what the sites write; they are not run on the hot path (the compiler checks
 * the sites against `MessageEventData<T>`), only by the tests and by any caller that wants to.
 */
import { z } from 'zod';

const iso = z.string();
const nullableString = z.string().nullable();

/** One delivery attempt as the hub records it from a node's result. */
const attempt = z.object({
  node: z.string(),
  attempt: z.number().int(),
  mx: nullableString,
  ip: nullableString,
  tls: nullableString,
  /** The reply line (`550 5.1.1 …`), or `STAGE: error` when no reply came. */
  reply: z.string(),
  code: z.number().int().nullable(),
  enhanced: nullableString,
  stage: nullableString,
  /** Reply class and rule of the provider table (shared/policy/classifier.ts). */
  class: z.string(),
  rule: z.string(),
  duration_ms: z.number(),
  from_journal: z.boolean().optional(),
});

/** What /v1/inbound parsed from a report (edge/services/feedback.ts reportSummary), kept as given. */
const report = z.looseObject({
  type: z.enum(['arf', 'dsn', 'unknown']).optional(),
  report_message_id: nullableString.optional(),
  original_message_id: nullableString.optional(),
});

/** A report matched to a job. */
const matchedReport = report.extend({
  matched_recipient: z.string(),
  pool: z.string(),
  sender_domain: z.string(),
});

/** A DSN recipient block matched to a job. */
const dsnNotice = report.extend({
  source: z.literal('dsn'),
  action: z.string(),
  status: nullableString,
  diagnostic: nullableString,
  remote_mta: nullableString,
});

/** The classification of a DSN's reply. */
const dsnClassified = {
  class: z.string(),
  rule: z.string(),
  suppress_recipient: z.boolean(),
  reply: z.string(),
};

export const MESSAGE_EVENT_SCHEMAS = {
  /** POST /v1/messages took the message. */
  accepted: z.object({ recipients: z.number().int(), lane: z.string(), pool: z.string(), size_bytes: z.number().int() }),
  /** send_at lies ahead: the jobs wait until then. */
  scheduled: z.object({ send_at: iso }),
  /** The sender canceled the message before any job was leased: its queued jobs are `canceled`, never sent. */
  canceled: z.object({ recipients: z.number().int(), send_at: iso.nullable() }),
  /** The sender moved a not-yet-leased message's send time; its queued jobs wait until then. */
  rescheduled: z.object({ send_at: iso, previous_send_at: iso.nullable(), recipients: z.number().int() }),
  /** A recipient on the tenant's suppression list: its job is written `suppressed`, never queued. */
  suppressed: z.object({
    recipient: z.string(),
    reason: z.string(),
    suppression_reason: z.string(),
    listed_at: iso,
    source: z.string().optional(),
    listed_by_message: z.string().optional(),
  }),
  /** Outreach recipient verification flagged the address; queued all the same. */
  recipient_flagged: z.object({ recipient: z.string(), flags: z.array(z.string()), reason: z.string().nullish() }),
  /** A job was leased to a node. */
  leased: z.object({
    node: z.string(),
    region: z.string(),
    pool: z.string(),
    ip: z.string().optional(),
    ips: z.array(z.string()).optional(),
    provider: z.string(),
    attempt: z.number().int(),
    lease_expires_at: iso,
  }),
  /** The receiving server accepted the message. */
  delivered: attempt.extend({ class: z.string().optional(), rule: z.string().optional() }),
  /** A temporary failure: retried at next_attempt_at, or null when the retries are spent (a `failed` follows). */
  deferred: attempt.extend({ next_attempt_at: iso.nullable(), retry_in_ms: z.number().optional() }),
  /** A permanent failure: from the SMTP reply, or later from a DSN (`async: true`). */
  bounced: z.union([attempt.extend({ suppress_recipient: z.boolean() }), dsnNotice.extend({ ...dsnClassified, async: z.literal(true) })]),
  /** Retries spent: the job is dead-lettered. */
  failed: z.object({ reason: z.string(), last_reply: z.string(), attempts: z.number().int() }),
  /** No result before the lease TTL: back to the queue. */
  lease_expired: z.object({ node: nullableString, lease_id: nullableString, reason: z.string() }),
  /** The node gave the lease back unstarted (its destination could not take it in time); not an attempt. */
  lease_released: z.object({ node: z.string(), lease_id: z.string(), reason: z.string(), next_attempt_at: iso }),
  /** Held back by a shaping limit (rate, breaker, warm-up, outreach pause). */
  throttled: z.object({ limit: z.string(), reason: z.string(), next_attempt_at: iso }),
  /** Constrained to a region with no connected node. */
  waiting: z.object({ reason: z.string(), region: z.string() }),
  /** An ARF complaint: the recipient is suppressed. */
  complained: matchedReport.extend({ suppressed: z.literal(true) }),
  /** An ARF report that is not a complaint (not-spam, auth-failure, …): recorded only. */
  feedback_report: matchedReport,
  /** A dead-lettered job was replayed (POST /v1/dead-letters/replay): the new job that sends it again. */
  replayed: z.object({
    replay_message: z.string(),
    replay_job: z.string(),
    by_key: z.string(),
    pool: z.string(),
    lane: z.string(),
    forced: z.boolean(),
    reason: z.string().nullable(),
  }),
  /** First event of a replay: the dead-lettered job this one sends again. */
  replay_of: z.object({ original_message: z.string(), original_job: z.string(), recipient: z.string(), pool: z.string(), lane: z.string() }),
  /** A rogue batch (SPEC §7 quota guards): accepted but held until an operator approves it. */
  held: z.object({ hold_id: z.string(), scope: z.enum(['tenant', 'domain']), key: z.string(), reason: z.string() }),
  /** The operator approved the hold: queued for delivery. */
  hold_approved: z.object({ hold_id: z.string(), by_key: z.string(), reason: z.string().nullable() }),
  /** The operator rejected the hold: never sent. */
  hold_rejected: z.object({ hold_id: z.string(), by_key: z.string(), reason: z.string().nullable() }),
  /** The recipient used the one-click unsubscribe (RFC 8058) of this message: suppressed for its tenant. */
  unsubscribed: z.object({ recipient: z.string(), lane: z.string(), sender_domain: z.string(), method: z.enum(['one_click', 'mailto']), suppressed: z.literal(true) }),
  /** The tracking pixel of this message was fetched (a mail client, or a proxy or scanner on its behalf). */
  opened: z.object({ recipient: z.string(), user_agent: z.string().nullable() }),
  /** A tracked link of this message was followed; `url` is the signed target it redirected to. */
  clicked: z.object({ recipient: z.string(), url: z.string(), user_agent: z.string().nullable() }),
  /** A DSN that did not change the job's state (a delay, or a bounce already known). */
  dsn_received: dsnNotice.extend({
    class: z.string().optional(),
    rule: z.string().optional(),
    suppress_recipient: z.boolean().optional(),
    reply: z.string().optional(),
  }),
} as const;

export type MessageEventType = keyof typeof MESSAGE_EVENT_SCHEMAS;

/** Every message event type, in the catalog's order (the API's enum). */
export const MESSAGE_EVENT_TYPES = Object.keys(MESSAGE_EVENT_SCHEMAS) as [MessageEventType, ...MessageEventType[]];

/** What an emission site passes as `data` for an event type. */
export type MessageEventData<T extends MessageEventType> = z.input<(typeof MESSAGE_EVENT_SCHEMAS)[T]>;

/** A message event as the store inserts it (edge's `Omit<MessageEventRecord, 'id'>`). */
export interface MessageEventDraft<T extends MessageEventType = MessageEventType> {
  messageId: string;
  jobId: string | null;
  type: T;
  at: number;
  data: Record<string, unknown> | null;
}

/** Builds a message event of a catalog type; `data` is checked against the type's schema at compile time. */
export function messageEvent<T extends MessageEventType>(
  type: T,
  e: { messageId: string; jobId: string | null; at: number; data: MessageEventData<T> },
): MessageEventDraft<T> {
  return { messageId: e.messageId, jobId: e.jobId, type, at: e.at, data: e.data as Record<string, unknown> };
}

export function isMessageEventType(type: string): type is MessageEventType {
  return Object.hasOwn(MESSAGE_EVENT_SCHEMAS, type);
}

/** Validates a stored or received event's data against its type's schema. */
export function parseMessageEventData<T extends MessageEventType>(type: T, data: unknown) {
  return MESSAGE_EVENT_SCHEMAS[type].safeParse(data);
}
