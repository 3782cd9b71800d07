import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import { loadPolicyDocument, resolvePolicy } from '../../shared/policy/defaults.ts';
import { LANES } from '../../shared/policy/scheduler.ts';
import { requireScope } from '../middleware/auth.ts';
import { floorViolationsFor, forgetTenantPolicy, tenantDocument } from '../services/policy.ts';
import { errorResponses } from './responses.ts';
import { actorOf, recordAudit } from '../services/audit.ts';

const PolicyViewSchema = z.object({
  version: z.number().int(),
  document: z.record(z.string(), z.unknown()),
  resolved: z.record(z.string(), z.unknown()),
});

const getPolicy = createRoute({
  method: 'get',
  path: '/v1/policies',
  summary: "The tenant's policy layer and the policy each lane resolves to",
  middleware: [requireScope('read')] as const,
  request: { query: z.object({ domain: z.string().max(253).optional() }) },
  responses: { 200: { description: 'Policy', content: { 'application/json': { schema: PolicyViewSchema } } }, ...errorResponses(ErrorSchema, [401, 403, 503]) },
});

const putPolicy = createRoute({
  method: 'put',
  path: '/v1/policies',
  summary: "Replace the tenant's policy layer (defaults, lanes, per sending domain); validated, unknown keys refused; the operator's policy is a floor: a tenant may tighten it, never loosen it (400 naming the field)",
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } }, required: true } },
  responses: { 200: { description: 'Stored', content: { 'application/json': { schema: PolicyViewSchema } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 503]) },
});

export function registerPolicies(app: App) {
  const view = async (deps: Parameters<typeof tenantDocument>[0], tenantId: string, domain: string | null, version: number, document: Record<string, unknown>) => {
    const doc = await tenantDocument(deps, tenantId, Date.now());
    return { version, document, resolved: Object.fromEntries(LANES.map((lane) => [lane, resolvePolicy(doc, { tenantId, lane, domain })])) };
  };

  app.openapi(getPolicy, async (c) => {
    const deps = c.get('deps');
    const { tenantId } = c.get('caller');
    const stored = await deps.store.getTenantPolicy(tenantId);
    return c.json(await view(deps, tenantId, c.req.valid('query').domain ?? null, stored?.version ?? 0, stored?.document ?? {}), 200);
  });

  app.openapi(putPolicy, async (c) => {
    const deps = c.get('deps');
    const { tenantId, keyId } = c.get('caller');
    const body = c.req.valid('json');
    try {
      loadPolicyDocument({ tenants: { [tenantId]: body } });
    } catch (error) {
      const message = (error as Error).message;
      // The first issue's path, relative to the tenant's document (it was checked under tenants.<id>).
      const first = ((error as { issues?: string[] }).issues?.[0] ?? '').split(': ')[0];
      const prefix = `tenants.${tenantId}.`;
      const field = first.startsWith(prefix) ? first.slice(prefix.length) : 'body';
      throw new ApiError('invalid_request', message, { field, reason: message.replace(/^invalid policy document: /, '') });
    }
    const [loosens] = await floorViolationsFor(deps, tenantId, body);
    if (loosens) throw new ApiError('invalid_request', `policy loosens the operator's floor at ${loosens.field}`, { field: loosens.field, reason: loosens.reason });
    const before = await deps.store.getTenantPolicy(tenantId);
    const version = await deps.store.putTenantPolicy(tenantId, body, keyId, Date.now());
    await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'policy.put', target: { kind: 'policy', id: tenantId }, before: before?.document ?? null, after: body });
    forgetTenantPolicy(deps, tenantId);
    deps.logger.info({ tenant: tenantId, key: keyId, version }, 'tenant policy replaced');
    return c.json(await view(deps, tenantId, null, version, body), 200);
  });
}
