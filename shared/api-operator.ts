/**
 * API bodies of operator control (SPEC §7): dead letters and their replay, rogue-batch holds.
 * One zod schema each, shared by the edge (validation, OpenAPI) and the CLI.
 */
import { z } from '@hono/zod-openapi';
import { LANES } from './lanes.ts';
import { MessageEventSchema } from './api.ts';

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected a lower-case name');
const jobId = z.string().regex(/^job_[A-Za-z0-9_-]{1,64}$/, 'expected a job id');

export const DeadLetterFilterSchema = z
  .object({
    /** Reply class of the last attempt (hard_bounce, block, policy, …). */
    reason_class: z.string().max(64).optional(),
    provider: z.string().max(64).optional(),
    /** Recipient domain. */
    domain: z.string().max(255).optional(),
    sender_domain: z.string().max(255).optional(),
    pool: z.string().max(64).optional(),
    lane: z.enum(LANES).optional(),
    /** Dead-lettered at or after / at or before. */
    since: z.string().datetime({ offset: true }).optional(),
    until: z.string().datetime({ offset: true }).optional(),
    replayed: z.enum(['true', 'false']).optional(),
  })
  .strict();

export const DeadLetterListQuerySchema = DeadLetterFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: jobId.optional(),
  /** With an admin key: show headers and body; the reason is written to the audit log. */
  reason: z.string().min(3).max(500).optional(),
});

export const DeadLetterSchema = z
  .object({
    job_id: z.string(),
    message_id: z.string(),
    recipient: z.string(),
    state: z.enum(['failed', 'bounced']),
    reason_class: z.string().nullable(),
    last_reply: z.string().nullable(),
    provider: z.string(),
    domain: z.string(),
    sender_domain: z.string(),
    pool: z.string(),
    lane: z.string(),
    attempts: z.number().int(),
    accepted_at: z.string(),
    dead_at: z.string().nullable(),
    /** Why, in order: each attempt's reply and class, then the final verdict. */
    reason_chain: z.array(z.object({ at: z.string(), type: z.string(), reason: z.string() })),
    /** Every attempt as the hub recorded it. */
    retry_history: z.array(MessageEventSchema),
    /** The job that replayed this one, if any. */
    replayed_by: z.string().nullable(),
    content: z.union([
      z.object({ redacted: z.literal(true), size_bytes: z.number().int() }),
      z.object({ redacted: z.literal(false), subject: z.string(), from: z.string(), headers: z.string(), body: z.string() }),
    ]),
  })
  .openapi('DeadLetter');

export const DeadLetterListSchema = z
  .object({ data: z.array(DeadLetterSchema), next_cursor: z.string().nullable(), has_more: z.boolean() })
  .openapi('DeadLetterList');

export const ReplaySchema = z
  .object({
    /** Which dead letters: ids, or a filter (at most `limit` of them, oldest first). */
    ids: z.array(jobId).min(1).max(1000).optional(),
    filter: DeadLetterFilterSchema.optional(),
    limit: z.number().int().min(1).max(1000).default(1000),
    /** New constraints; unset ones keep the original's. */
    pool: name.optional(),
    lane: z.enum(LANES).optional(),
    region: name.nullable().optional(),
    send_window: z
      .object({ timezone: z.string().max(64), start_hour: z.number().int().min(0).max(23), end_hour: z.number().int().min(1).max(24), days: z.array(z.number().int().min(0).max(6)).optional() })
      .optional(),
    /** Replay to recipients now on the suppression list too; needs `reason` (audited). */
    force: z.boolean().default(false),
    reason: z.string().min(3).max(500).optional(),
  })
  .strict()
  .openapi('Replay');

export const ReplayResultSchema = z
  .object({
    replayed: z.array(z.object({ original_job_id: z.string(), job_id: z.string(), message_id: z.string() })),
    /** Already replayed before: a replay twice sends once. */
    already_replayed: z.array(z.object({ original_job_id: z.string(), job_id: z.string().nullable() })),
    /** Recipients on the suppression list (replay them with force and a reason). */
    refused: z.array(z.object({ original_job_id: z.string(), recipient: z.string(), reason: z.string() })),
    /** Asked for by id but not dead-lettered (unknown, delivered or still in flight). */
    not_found: z.array(z.string()),
  })
  .openapi('ReplayResult');

export const HoldSchema = z
  .object({
    id: z.string(),
    scope: z.enum(['tenant', 'domain']),
    /** The tenant id or the sending domain. */
    key: z.string(),
    status: z.enum(['pending', 'approved', 'rejected']),
    reason: z.string(),
    volume: z.number().int(),
    threshold: z.number().int(),
    trailing_p95_per_hour: z.number().int(),
    /** Held jobs waiting for the decision (pending holds only). */
    held_jobs: z.number().int().nullable(),
    created_at: z.string(),
    decided_at: z.string().nullable(),
    decided_by: z.string().nullable(),
    decision_reason: z.string().nullable(),
  })
  .openapi('Hold');

export const HoldListQuerySchema = z.object({
  status: z.enum(['pending', 'approved', 'rejected']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().regex(/^hold_[A-Za-z0-9_-]{1,64}$/, 'expected the next_cursor of a previous page').optional(),
});

export const HoldListSchema = z.object({ data: z.array(HoldSchema), next_cursor: z.string().nullable(), has_more: z.boolean() }).openapi('HoldList');

export const HoldDecisionSchema = z.object({ reason: z.string().min(1).max(500).optional() }).strict().openapi('HoldDecision');

export const HoldDecisionResultSchema = HoldSchema.extend({ jobs: z.number().int() }).openapi('HoldDecisionResult');

export type ReplayRequest = z.infer<typeof ReplaySchema>;
export type DeadLetterFilter = z.infer<typeof DeadLetterFilterSchema>;
