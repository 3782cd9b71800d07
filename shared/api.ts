/**
 * The HTTP API's bodies: one zod schema each, shared by the edge (validation, OpenAPI) and the
 * CLI. Field-level rules that need more than shape (address syntax, header injection, sizes) are
 * applied by the accept service, which names the field in its 400.
 */
import { z } from '@hono/zod-openapi';
import { MESSAGE_EVENT_TYPES } from './events/index.ts';
import { JOB_STATES, LANES } from './lanes.ts';

export { JOB_STATES, LANES, type JobState, type Lane } from './lanes.ts';

const MailboxInput = z.union([
  z.string().min(3).max(512),
  z.object({ email: z.string().min(3).max(320), name: z.string().max(256).nullish() }),
]);
const MailboxList = z.union([MailboxInput, z.array(MailboxInput).max(1000)]);

export const AttachmentSchema = z.object({
  filename: z.string().min(1).max(255),
  content_type: z.string().max(255).default('application/octet-stream'),
  /** base64 */
  content: z.string(),
  content_id: z.string().max(255).nullish(),
});

export const RoutingConstraintsSchema = z
  .object({
    region: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/).optional(),
    dedicated_only: z.boolean().optional(),
    ipv4_only: z.boolean().optional(),
    no_spillover: z.boolean().optional(),
    /** Recipient's IANA time zone and local hours in which delivery may start, e.g. 9-17. */
    send_window: z
      .object({
        timezone: z.string().max(64),
        start_hour: z.number().int().min(0).max(23),
        end_hour: z.number().int().min(1).max(24),
        days: z.array(z.number().int().min(0).max(6)).optional(),
      })
      .optional(),
  })
  .strict();

export const SendMessageSchema = z
  .object({
    from: MailboxInput,
    to: MailboxList.optional(),
    cc: MailboxList.optional(),
    bcc: MailboxList.optional(),
    reply_to: MailboxList.optional(),
    /** Required unless `template_id` is given (then the template's subject is used). */
    subject: z.string().max(998).optional(),
    text: z.string().optional(),
    html: z.string().optional(),
    /** A stored template (`/v1/templates`) to render instead of subject, text and html. */
    template_id: z.string().min(1).max(64).optional(),
    /** The template version to render; absent: its current one. */
    template_version: z.number().int().min(1).optional(),
    /** The template's variables (Mustache); every variable the template uses must be given. */
    variables: z.record(z.string().max(128), z.unknown()).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    attachments: z.array(AttachmentSchema).max(100).optional(),
    tags: z.record(z.string().max(64), z.string().max(256)).optional(),
    lane: z.string().optional(),
    pool: z.string().optional(),
    constraints: RoutingConstraintsSchema.optional(),
    send_at: z.string().datetime({ offset: true }).optional(),
    /** Alias of `send_at` (the name Resend and others use); give one of the two. */
    scheduled_at: z.string().datetime({ offset: true }).optional(),
  })
  .strict()
  .openapi('SendMessage');

export const BatchSendSchema = z
  .object({ messages: z.array(SendMessageSchema).min(1).max(1000) })
  .strict()
  .openapi('BatchSend');

export const AcceptedMessageSchema = z
  .object({
    id: z.string(),
    /**
     * `suppressed` when every recipient is on the suppression list: accepted, nothing to deliver.
     * `held`: a rogue batch (far above the trailing pattern), accepted and held for approval (GET /v1/holds).
     */
    status: z.enum(['queued', 'suppressed', 'held']),
    /** Recipients queued for delivery (suppressed ones are not counted). */
    recipients: z.number().int(),
    /** Recipients on the tenant's suppression list: not queued, their job says why. */
    suppressed: z.array(z.string()).optional(),
  })
  .openapi('AcceptedMessage');

/** PATCH /v1/messages/{id}: a new send time for a message no node has taken yet. */
export const RescheduleMessageSchema = z
  .object({
    /** ISO 8601 with offset; a time already past sends at once. Required (or its alias). */
    send_at: z.string().datetime({ offset: true }).optional(),
    /** Alias of `send_at`. */
    scheduled_at: z.string().datetime({ offset: true }).optional(),
  })
  .strict()
  .openapi('RescheduleMessage');

export const ScheduleChangedSchema = z
  .object({
    id: z.string(),
    status: z.enum(['canceled', 'scheduled']),
    /** Recipients whose jobs changed (suppressed ones are left as they were). */
    recipients: z.number().int(),
    /** The new send time (reschedule only). */
    send_at: z.string().optional(),
  })
  .openapi('ScheduleChanged');

export const BatchAcceptedSchema = z
  .object({ data: z.array(AcceptedMessageSchema) })
  .openapi('BatchAccepted');

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      action: z.string(),
      field: z.string().optional(),
      reason: z.string().optional(),
    }).passthrough(),
  })
  .openapi('Error');

export const RecipientStatusSchema = z.object({
  job_id: z.string(),
  recipient: z.string(),
  kind: z.string(),
  domain: z.string(),
  provider: z.string(),
  pool: z.string(),
  state: z.string(),
  attempts: z.number().int(),
  next_attempt_at: z.string().nullable(),
  last_reply: z.string().nullable(),
  last_class: z.string().nullable(),
});

export const MessageEventSchema = z.object({
  seq: z.number().int(),
  /** One of the message event catalog's types (shared/events/message.ts). */
  type: z.enum(MESSAGE_EVENT_TYPES),
  at: z.string(),
  job_id: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
});

export const MessageViewSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    from: z.string(),
    subject: z.string(),
    lane: z.string(),
    pool: z.string(),
    message_id_header: z.string(),
    size_bytes: z.number().int(),
    tags: z.record(z.string(), z.string()).nullable(),
    created_at: z.string(),
    recipients: z.array(RecipientStatusSchema),
    events: z.array(MessageEventSchema),
  })
  .openapi('Message');

export const MessageListQuerySchema = z.object({
  status: z.enum(JOB_STATES).optional(),
  lane: z.enum(LANES).optional(),
  domain: z.string().max(255).optional(),
  provider: z.string().max(64).optional(),
  since: z.string().datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** `next_cursor` of the previous page (every list pages this way: `cursor` in, `next_cursor` + `has_more` out). */
  cursor: z.string().regex(/^msg_[A-Za-z0-9_-]{1,64}$/, 'expected the next_cursor of a previous page').optional(),
});

export const MessageSummarySchema = z.object({
  id: z.string(),
  status: z.string(),
  from: z.string(),
  subject: z.string(),
  lane: z.string(),
  created_at: z.string(),
  recipients: z.number().int(),
});

export const CreateDomainSchema = z
  .object({
    domain: z.string().min(3).max(253),
    /** Defaults to rsa-sha256 (2048 bits); ed25519-sha256 (RFC 8463) is offered beside it. */
    dkim_algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']).default('rsa-sha256'),
    return_path_domain: z.string().max(253).optional(),
  })
  .strict()
  .openapi('CreateDomain');

export const DNS_RECORD_STATUSES = ['ok', 'missing', 'mismatch', 'error', 'skipped', 'unchecked'] as const;

export const DnsRecordSchema = z.object({
  /** dkim, ownership (decide verification); spf, dmarc, return_path; mta-sts (optional). */
  purpose: z.string(),
  type: z.string(),
  name: z.string(),
  /** What to publish: for SPF the existing record with the platform's mechanism merged in. */
  value: z.string(),
  /** Optional records are advice; verification needs dkim and ownership only. */
  optional: z.boolean(),
  /** As the last DNS check found it (`unchecked` before the first). */
  status: z.enum(DNS_RECORD_STATUSES),
  /** The record DNS holds now, when it holds one. */
  found: z.string().nullable(),
  /** The lookup error (SERVFAIL, timeout) or what to fix. */
  note: z.string().optional(),
});

export const DomainViewSchema = z
  .object({
    id: z.string(),
    domain: z.string(),
    status: z.string(),
    dkim_selector: z.string(),
    dkim_algorithm: z.string(),
    return_path_domain: z.string(),
    created_at: z.string(),
    /** When DNS was last checked (POST /v1/domains/:id/verify, or the schedule). */
    checked_at: z.string().nullable(),
    verified_at: z.string().nullable(),
    /** Why the last check left the status as it was (a lookup failure, another tenant's claim). */
    check_error: z.string().nullable(),
    dns_records: z.array(DnsRecordSchema),
  })
  .openapi('Domain');

export const DomainDetailSchema = DomainViewSchema.extend({
  /** Status changes, newest first. */
  events: z.array(z.object({ from: z.string().nullable(), to: z.string().nullable(), reason: z.string(), at: z.string(), records: z.record(z.string(), z.string()).nullable() })),
}).openapi('DomainDetail');

export const CreateNodeTokenSchema = z
  .object({
    region: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
    allowed_ips: z.array(z.string().max(64)).min(1).max(1024),
    name: z.string().max(128).optional(),
  })
  .strict()
  .openapi('CreateNodeToken');

// ---------------------------------------------------------------------------------------------
// Warm-ups (SPEC §4, §7): a pool's or one IP's warm-up plan, its state and projected safe throughput.

export const CreateWarmupSchema = z
  .object({
    /** Warm up this pool; with `ip`, the pool that IP serves (found from connected nodes when left out). */
    pool: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected a lower-case pool name').optional(),
    /** Warm up one source IP instead of a whole pool. */
    ip: z.union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' }).optional(),
    /** The lane whose policy plan to start from; by default the lane that uses the pool, else the policy defaults. */
    lane: z.enum(LANES).optional(),
    /** Overrides of the plan (`day1`, `growth`, `table`, `maxDaily`, `hold`, `stepBack`, `stepBackDays`, `minUtilisation`, `spreadOver`, `spacingJitter`), validated like the policy's `warmup.plan`. */
    plan: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .openapi('CreateWarmup');

const ThroughputSchema = z.object({ per_day: z.number().int(), per_hour: z.number().int() });

export const WarmupProviderViewSchema = z.object({
  provider: z.string(),
  day: z.number().int(),
  cap_today: z.number().int(),
  sent_today: z.number().int(),
  remaining_today: z.number().int(),
  /** Earliest time the next send to this provider may go (the randomised spacing slot); null when not limited. */
  next_send_at: z.string().nullable(),
  last_send_at: z.string().nullable(),
  signals_today: z.object({ sent: z.number().int(), bounced: z.number().int(), blocked: z.number().int(), complained: z.number().int() }),
  complete: z.boolean(),
  last_decision: z.object({ decision: z.string(), from_day: z.number().int(), to_day: z.number().int(), reason: z.string(), at: z.string() }).nullable(),
  /** From today's signals: what this provider can safely take (the stepped-back cap when signals say step back). */
  projected: ThroughputSchema.extend({ decision: z.string(), reason: z.string() }),
});

export const WarmupViewSchema = z
  .object({
    id: z.string(),
    scope: z.enum(['pool', 'ip']),
    /** The pool name or the IP address. */
    target: z.string(),
    pool: z.string().nullable(),
    lane: z.string().nullable(),
    status: z.enum(['active', 'complete', 'stopped']),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    day_start: z.string(),
    next_day_at: z.string().nullable(),
    overrides: z.record(z.string(), z.unknown()),
    plan: z.record(z.string(), z.unknown()),
    providers: z.array(WarmupProviderViewSchema),
    /** Sum over providers still warming. */
    projected_safe_throughput: ThroughputSchema,
    events: z.array(z.object({ type: z.string(), from: z.string().nullable(), to: z.string().nullable(), reason: z.string(), at: z.string(), data: z.record(z.string(), z.unknown()).nullable() })).optional(),
  })
  .openapi('Warmup');

export const WarmupListQuerySchema = z.object({
  status: z.enum(['active', 'complete', 'stopped']).optional(),
  scope: z.enum(['pool', 'ip']).optional(),
});

export type CreateWarmup = z.infer<typeof CreateWarmupSchema>;
export type WarmupView = z.infer<typeof WarmupViewSchema>;

export type SendMessage = z.infer<typeof SendMessageSchema>;
export type MessageView = z.infer<typeof MessageViewSchema>;
export type MessageSummary = z.infer<typeof MessageSummarySchema>;
export type MessageListQuery = z.infer<typeof MessageListQuerySchema>;
export type DomainView = z.infer<typeof DomainViewSchema>;

// ---------------------------------------------------------------------------------------------
// Suppressions and feedback intake (SPEC §5)

export const SUPPRESSION_REASONS = ['hard_bounce', 'complaint', 'unsubscribe', 'manual'] as const;

export const CreateSuppressionSchema = z
  .object({
    address: z.string().min(3).max(320),
    reason: z.enum(SUPPRESSION_REASONS).default('manual'),
    /** Free text kept as the row's source (e.g. "asked by phone"). */
    note: z.string().max(500).optional(),
  })
  .strict()
  .openapi('CreateSuppression');

export const SuppressionSchema = z
  .object({
    address: z.string(),
    reason: z.enum(SUPPRESSION_REASONS),
    source: z.string().nullable(),
    message_id: z.string().nullable(),
    job_id: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Suppression');

export const SuppressionListQuerySchema = z.object({
  reason: z.enum(SUPPRESSION_REASONS).optional(),
  /** Part of the address, case-insensitive. */
  contains: z.string().min(1).max(320).optional(),
  /** `next_cursor` of the previous page. */
  cursor: z.string().regex(/^\d{1,18}$/, 'expected the next_cursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const SuppressionListSchema = z
  .object({ data: z.array(SuppressionSchema), next_cursor: z.string().nullable(), has_more: z.boolean() })
  .openapi('SuppressionList');

export const InboundResultSchema = z
  .object({
    /** Whether the report was tied to one of our delivery jobs. */
    matched: z.boolean(),
    kind: z.enum(['complaint', 'bounce', 'delay', 'report', 'unknown']),
    /** Why it did not match, or why nothing was done. */
    reason: z.string().optional(),
    /** How it was tied: the VERP address or the original Message-ID. */
    matched_by: z.enum(['verp', 'message_id']).optional(),
    message_id: z.string().optional(),
    job_id: z.string().optional(),
    recipient: z.string().optional(),
    /** What the intake did: suppressed, event, signal, transition. Empty for a repeat report. */
    actions: z.array(z.string()),
    duplicate: z.boolean().optional(),
    report: z.record(z.string(), z.unknown()),
  })
  .openapi('InboundResult');

export type InboundResult = z.infer<typeof InboundResultSchema>;
