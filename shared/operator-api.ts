/**
 * API bodies of operator control (SPEC §7): API keys and node tokens, pools and source IPs, the
 * audit log and configuration as code. Shared by the edge (validation, OpenAPI) and the CLI.
 */
import { z } from '@hono/zod-openapi';

export const KEY_SCOPES = ['send', 'read', 'admin', 'feedback'] as const;
/** Longest a rotated secret stays valid beside its replacement. */
export const MAX_ROTATION_OVERLAP_SECONDS = 7 * 24 * 3600;

const name = z.string().min(1).max(128);
export const PoolNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lower-case letters, digits, ".", "_" or "-", up to 64');

export const CreateApiKeySchema = z
  .object({
    name,
    scopes: z.array(z.enum(KEY_SCOPES)).min(1),
    /** The operator may create a key for another tenant; anyone else, for its own. */
    tenant_id: z.string().min(1).max(64).optional(),
  })
  .strict()
  .openapi('CreateApiKey');

export const RotateSchema = z
  .object({
    /** 0 (the default): the old secret stops working now; otherwise it works this much longer. */
    overlap_seconds: z.number().int().min(0).max(MAX_ROTATION_OVERLAP_SECONDS).default(0),
  })
  .strict()
  .openapi('Rotate');

export const ApiKeySchema = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    name: z.string().nullable(),
    prefix: z.string(),
    scopes: z.array(z.string()),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    /** When it stopped (or, during a rotation's overlap, will stop) working. */
    revoked_at: z.string().nullable(),
    rotated_from: z.string().nullable(),
  })
  .openapi('ApiKey');

export const NodeTokenSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    region: z.string(),
    allowed_ips: z.array(z.string()),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
    rotated_at: z.string().nullable(),
    /** The secret the last rotation replaced works until then. */
    previous_secret_expires_at: z.string().nullable(),
  })
  .openapi('NodeToken');

export const CreatePoolSchema = z
  .object({
    name: PoolNameSchema,
    /** Set: a dedicated pool of this tenant; absent: a shared pool. */
    tenant_id: z.string().min(1).max(64).optional(),
    description: z.string().max(512).optional(),
  })
  .strict()
  .openapi('CreatePool');

export const UpdatePoolSchema = z
  .object({
    /** A tenant makes the pool dedicated to it; null makes it shared. */
    tenant_id: z.string().min(1).max(64).nullable().optional(),
    description: z.string().max(512).nullable().optional(),
  })
  .strict()
  .openapi('UpdatePool');

export const PoolSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['shared', 'dedicated']),
    tenant_id: z.string().nullable(),
    description: z.string().nullable(),
    ips: z.array(z.string()),
    created_at: z.string(),
  })
  .openapi('Pool');

export const SOURCE_IP_STATUSES = ['active', 'draining', 'retired'] as const;

export const PutSourceIpSchema = z
  .object({
    pool: PoolNameSchema,
    /** Only this node token's nodes may send from the IP; null or absent: any token that allows it. */
    node_token_id: z.string().min(1).max(64).nullable().optional(),
  })
  .strict()
  .openapi('PutSourceIp');

export const SourceIpViewSchema = z
  .object({
    address: z.string(),
    pool: z.string(),
    node_token_id: z.string().nullable(),
    status: z.enum(SOURCE_IP_STATUSES),
    /** Leases in flight from it (a draining IP is retired once this is 0). */
    leases_outstanding: z.number().int().optional(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('SourceIp');

export const AuditQuerySchema = z.object({
  actor: z.string().max(64).optional().openapi({ description: 'Key id of the actor' }),
  kind: z.string().max(64).optional().openapi({ description: 'Target kind: policy, domain, webhook, suppression, warmup, tenant, api_key, node_token, pool, source_ip, config' }),
  target: z.string().max(512).optional().openapi({ description: 'Target id' }),
  since: z.string().datetime({ offset: true }).optional(),
  until: z.string().datetime({ offset: true }).optional(),
  /** The operator may read another tenant's entries, or `*` for every tenant's. */
  tenant_id: z.string().max(64).optional(),
  cursor: z.string().regex(/^\d+$/).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string(),
    actor: z.object({ key_id: z.string(), key_name: z.string().nullable(), tenant_id: z.string().nullable() }),
    tenant_id: z.string().nullable(),
    action: z.string(),
    target: z.object({ kind: z.string(), id: z.string() }),
    before: z.unknown(),
    after: z.unknown(),
    reason: z.string().nullable(),
  })
  .openapi('AuditEntry');
