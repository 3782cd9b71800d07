/**
 * Request and response bodies of the Resend-compatible endpoints, as the official SDK sends and
 * reads them (node_modules/resend/dist/index.d.mts: EmailApiOptions, GetEmailResponseSuccess,
 * Domain, DomainRecords, ApiKey). Field rules beyond shape live in edge/services/resend-*.ts.
 */
import { z } from '@hono/zod-openapi';

const Address = z.string().min(3).max(512);
/** Resend: a string or up to 50 strings. */
const AddressList = z.union([Address, z.array(Address).min(1).max(50)]);
/** Resend: ASCII letters, numbers, underscores or dashes, up to 256 characters. */
const TagText = z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, 'only ASCII letters, numbers, underscores and dashes, up to 256 characters');

export const ResendAttachmentSchema = z.object({
  /** base64 (the SDK encodes a Buffer so). */
  content: z.string().optional(),
  filename: z.string().max(255).optional(),
  /** A URL Resend would fetch; Postlane refuses it (no fetch of arbitrary URLs from the edge). */
  path: z.string().optional(),
  content_type: z.string().max(255).optional(),
  content_id: z.string().max(255).optional(),
});

export const ResendEmailSchema = z
  .object({
    from: Address.optional(),
    to: AddressList.optional(),
    subject: z.string().max(998).optional(),
    cc: AddressList.optional(),
    bcc: AddressList.optional(),
    reply_to: AddressList.optional(),
    html: z.string().optional(),
    text: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /** ISO 8601; maps to send_at. */
    scheduled_at: z.string().max(64).optional(),
    /** A tag named `lane` picks the lane. */
    tags: z.array(z.object({ name: TagText, value: TagText })).max(50).optional(),
    attachments: z.array(ResendAttachmentSchema).max(100).optional(),
    /** A stored template (`/v1/templates`) and its variables. */
    template: z.object({ id: z.string().min(1).max(64), variables: z.record(z.string().max(128), z.union([z.string(), z.number()])).optional() }).optional(),
    topic_id: z.string().nullish(),
  })
  .strict()
  .openapi('ResendEmail');

export type ResendEmail = z.infer<typeof ResendEmailSchema>;

/** Resend's batch is up to 100 emails. */
export const ResendBatchSchema = z.array(ResendEmailSchema).min(1).max(100).openapi('ResendBatch');

export const ResendCreatedSchema = z.object({ id: z.string() }).openapi('ResendCreated');
export const ResendBatchCreatedSchema = z.object({ data: z.array(z.object({ id: z.string() })) }).openapi('ResendBatchCreated');

export const ResendEmailRefSchema = z.object({ object: z.literal('email'), id: z.string() }).openapi('ResendEmailRef');

/** `scheduled_at` is required; checked after the lookup so another tenant's id answers 404 first. */
export const ResendUpdateEmailSchema = z.object({ scheduled_at: z.string().max(64).optional() }).strict().openapi('ResendUpdateEmail');

export const LAST_EVENTS = ['bounced', 'canceled', 'clicked', 'complained', 'delivered', 'delivery_delayed', 'failed', 'opened', 'queued', 'scheduled', 'sent', 'suppressed'] as const;

export const ResendEmailViewSchema = z
  .object({
    object: z.literal('email'),
    id: z.string(),
    to: z.array(z.string()),
    from: z.string(),
    created_at: z.string(),
    subject: z.string(),
    html: z.string().nullable(),
    text: z.string().nullable(),
    bcc: z.array(z.string()).nullable(),
    cc: z.array(z.string()).nullable(),
    reply_to: z.array(z.string()).nullable(),
    last_event: z.enum(LAST_EVENTS),
    scheduled_at: z.string().nullable(),
    message_id: z.string(),
    tags: z.array(z.object({ name: z.string(), value: z.string() })),
  })
  .openapi('ResendEmailView');

export const ResendIdParam = z.object({ id: z.string().min(1).max(64) });

export const ResendCreateDomainSchema = z
  .object({
    name: z.string().min(1).max(253),
    /** Postlane domains are not regional: refused when set (mail goes out of the region its lane or constraints name). */
    region: z.string().max(32).optional(),
    /** The return-path subdomain: `<custom_return_path>.<name>` (default bounces). */
    custom_return_path: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, 'a single DNS label').optional(),
    capabilities: z.object({ sending: z.enum(['enabled', 'disabled']).optional(), receiving: z.enum(['enabled', 'disabled']).optional() }).optional(),
    open_tracking: z.boolean().optional(),
    click_tracking: z.boolean().optional(),
    tls: z.enum(['enforced', 'opportunistic']).optional(),
    tracking_subdomain: z.string().max(63).optional(),
  })
  .strict()
  .openapi('ResendCreateDomain');

const RecordStatus = z.enum(['pending', 'verified', 'failed', 'temporary_failure', 'not_started']);

export const ResendDomainRecordSchema = z.object({
  /** SPF (with the return path's MX, as Resend groups them), DKIM, and Postlane's Ownership and DMARC. */
  record: z.string(),
  /** Relative to the domain, as a DNS panel takes it (`@` for the domain itself). */
  name: z.string(),
  type: z.string(),
  value: z.string(),
  ttl: z.string(),
  status: RecordStatus,
  priority: z.number().int().optional(),
});

export const ResendDomainSchema = z
  .object({
    object: z.literal('domain').optional(),
    id: z.string(),
    name: z.string(),
    status: z.enum(['not_started', 'pending', 'verified', 'failed', 'partially_verified', 'partially_failed']),
    created_at: z.string(),
    capabilities: z.object({ sending: z.enum(['enabled', 'disabled']), receiving: z.enum(['enabled', 'disabled']) }),
    records: z.array(ResendDomainRecordSchema).optional(),
  })
  .openapi('ResendDomain');

/** Resend's cursor pagination: `limit` (1-100, default 20) and `after` or `before` an id. */
export const ResendListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  after: z.string().max(64).optional(),
  before: z.string().max(64).optional(),
});

export const ResendDomainListSchema = z.object({ object: z.literal('list'), has_more: z.boolean(), data: z.array(ResendDomainSchema) }).openapi('ResendDomainList');

export const ResendDomainRefSchema = z.object({ object: z.literal('domain'), id: z.string(), deleted: z.boolean().optional() }).openapi('ResendDomainRef');

export const ResendApiKeyListSchema = z
  .object({
    object: z.literal('list'),
    has_more: z.boolean(),
    data: z.array(z.object({ id: z.string(), name: z.string(), created_at: z.string(), last_used_at: z.string().nullable() })),
  })
  .openapi('ResendApiKeyList');
