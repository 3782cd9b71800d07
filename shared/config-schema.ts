/**
 * Configuration as code (SPEC §7): one declarative document for a tenant's domains, webhooks,
 * lanes (routing to pools, shaping overrides) and policy, and, for the operator, its pools and
 * source IPs. One zod schema: the API validates with it, and serves it as JSON Schema for
 * editors (`GET /v1/config/schema`). YAML or JSON; unknown keys are refused everywhere.
 *
 * A section left out is not managed by the document: what is live stays. A section given is the
 * whole truth for its kind: what is live and not in it is deleted by the apply.
 */
import { z } from '@hono/zod-openapi';
import { CreateWebhookSchema } from './webhooks.ts';
import { PoolNameSchema } from './operator-api.ts';

export const CONFIG_VERSION = 1;

const tenantId = z.string().min(1).max(64);
const domainName = z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/, 'expected a lower-case domain name');

export const ConfigPoolSchema = z
  .object({
    /** Dedicated to this tenant (only its mail is leased from the pool); absent: shared. */
    tenant: tenantId.nullable().optional(),
    description: z.string().max(512).nullable().optional(),
  })
  .strict();

export const ConfigIpSchema = z
  .object({
    pool: PoolNameSchema,
    /** Only this node token's nodes may send from the IP. */
    node_token: z.string().min(1).max(64).nullable().optional(),
    /** `draining`: no new leases. Retiring is `POST /v1/ips/{address}/retire`, once drained. */
    status: z.enum(['active', 'draining']).default('active'),
  })
  .strict();

export const ConfigDomainSchema = z
  .object({
    dkim_algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']).default('rsa-sha256'),
    /** Default `bounces.<domain>`. */
    return_path_domain: domainName.optional(),
  })
  .strict();

/** As POST /v1/webhooks takes it (the URL is the key); null filters and description as GET /v1/config shows them. */
export const ConfigWebhookSchema = CreateWebhookSchema.omit({ url: true }).extend({
  lanes: CreateWebhookSchema.shape.lanes.unwrap().nullable().optional(),
  domains: CreateWebhookSchema.shape.domains.unwrap().nullable().optional(),
  description: CreateWebhookSchema.shape.description.unwrap().nullable().optional(),
});

/** A policy layer (shared/policy/defaults.ts `LanePolicy`, partial): validated by the policy loader. */
const PolicyLayer = z.record(z.string(), z.unknown()).openapi({ description: 'A partial lane policy (pools, breaker, aimd, warmup, quota, sendWindow, …) as in PUT /v1/policies' });

export const ConfigDocumentSchema = z
  .object({
    version: z.literal(CONFIG_VERSION),
    /** Operator only: pools by name. */
    pools: z.record(PoolNameSchema, ConfigPoolSchema).optional(),
    /** Operator only: source IPs by address. */
    ips: z.record(z.string().min(2).max(64), ConfigIpSchema).optional(),
    /** Sending domains by name; a new one gets its DKIM key at apply (publish its DNS records). */
    domains: z.record(domainName, ConfigDomainSchema).optional(),
    /** Lanes: routing (`pools`) and shaping overrides (`breaker`, `aimd`, `warmup`, …) per lane. */
    lanes: z.record(z.string(), PolicyLayer).optional(),
    /** The rest of the tenant's policy layer: `defaults` and per sending domain `domains`. */
    policy: z
      .object({ defaults: PolicyLayer.optional(), domains: z.record(domainName, PolicyLayer).optional() })
      .strict()
      .optional(),
    /** Webhook endpoints by URL; a new one's signing secret is shown once, in the apply's answer. */
    webhooks: z.record(z.string().min(1).max(2048), ConfigWebhookSchema).optional(),
  })
  .strict()
  .openapi('ConfigDocument');

export type ConfigDocument = z.infer<typeof ConfigDocumentSchema>;
export const CONFIG_SECTIONS = ['pools', 'ips', 'domains', 'lanes', 'policy', 'webhooks'] as const;
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];
