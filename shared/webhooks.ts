/**
 * The webhook API's bodies (`/v1/webhooks`) and the payload every delivery carries. Event types
 * come from the message event catalog (shared/events/message.ts).
 */
import { z } from '@hono/zod-openapi';
import { MESSAGE_EVENT_TYPES } from './events/message.ts';
import { ALERT_EVENT_TYPES } from './events/alert.ts';

/** Message events, and the alert events of the tenant's alerts (shared/events/alert.ts). */
const WEBHOOK_EVENT_TYPES = [...MESSAGE_EVENT_TYPES, ...ALERT_EVENT_TYPES] as const;
const EventTypes = z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).max(WEBHOOK_EVENT_TYPES.length);
const Filter = z.array(z.string().min(1).max(253)).min(1).max(100);

export const CreateWebhookSchema = z
  .object({
    /** http(s); its host must resolve to public addresses only (or to a range the operator allows). */
    url: z.string().min(1).max(2048),
    event_types: EventTypes,
    /** Only messages of these lanes; absent: every lane. */
    lanes: Filter.optional(),
    /** Only messages from these sending domains; absent: every domain. */
    domains: Filter.optional(),
    enabled: z.boolean().default(true),
    description: z.string().max(256).optional(),
  })
  .strict()
  .openapi('CreateWebhook');

export const UpdateWebhookSchema = z
  .object({
    url: z.string().min(1).max(2048).optional(),
    event_types: EventTypes.optional(),
    lanes: Filter.nullable().optional(),
    domains: Filter.nullable().optional(),
    /** true re-enables an endpoint the platform disabled (its failure record is cleared). */
    enabled: z.boolean().optional(),
    description: z.string().max(256).nullable().optional(),
  })
  .strict()
  .openapi('UpdateWebhook');

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()),
    lanes: z.array(z.string()).nullable(),
    domains: z.array(z.string()).nullable(),
    enabled: z.boolean(),
    /** `disabled_by_platform`: it failed continuously (see `disabled`); PATCH enabled=true to resume. */
    status: z.enum(['enabled', 'disabled', 'disabled_by_platform']),
    disabled: z.object({ reason: z.string(), at: z.string() }).nullable(),
    /** The last sequence number given to a delivery of this endpoint's stream (0: none yet). */
    last_sequence: z.number().int(),
    failing: z.object({ consecutive_failures: z.number().int(), since: z.string() }).nullable(),
    /** While a rotation's overlap runs, the old secret signs too, until this time. */
    previous_secret_expires_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Webhook');

export const WebhookWithSecretSchema = WebhookSchema.extend({
  /** `whsec_…`: shown here once, never again. */
  secret: z.string(),
}).openapi('WebhookWithSecret');

export const WebhookListSchema = z.object({ data: z.array(WebhookSchema) }).openapi('WebhookList');

export const RotateSecretSchema = z
  .object({ overlap_ms: z.number().int().min(0).max(7 * 86_400_000).optional() })
  .strict()
  .openapi('RotateWebhookSecret');

export const DeadLetterSchema = z
  .object({
    id: z.string(),
    sequence: z.number().int(),
    type: z.string(),
    message_id: z.string(),
    job_id: z.string().nullable(),
    message_event_index: z.number().int(),
    at: z.string(),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    dead_at: z.string().nullable(),
  })
  .openapi('WebhookDeadLetter');

export const DeadLetterListSchema = z.object({ data: z.array(DeadLetterSchema) }).openapi('WebhookDeadLetterList');

/** `since` absent: every dead letter of the endpoint. */
export const ReplaySinceSchema = z.object({ since: z.string().datetime({ offset: true }).optional() }).strict().openapi('WebhookReplaySince');
export const ReplayResultSchema = z.object({ replayed: z.number().int() }).openapi('WebhookReplayResult');

/** The body of every delivery (JSON). */
export interface WebhookPayload {
  type: string;
  /** This endpoint's stream: 1, 2, 3, … with no gaps. */
  sequence: number;
  /** The event's place in its message's trace, from 1 (events of one message arrive in this order). */
  message_event_index: number;
  message_id: string;
  job_id: string | null;
  at: string;
  data: Record<string, unknown> | null;
}
