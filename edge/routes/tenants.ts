import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import { newId, newSecret, sha256Hex } from '../../shared/ids.ts';
import { requireScope } from '../middleware/auth.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { actorOf, recordAudit } from '../services/audit.ts';
import { errorResponses } from './responses.ts';

const CreateTenantSchema = z
  .object({
    name: z.string().min(1).max(128),
    scopes: z.array(z.enum(['send', 'read', 'admin', 'feedback'])).min(1).default(['send', 'read', 'admin']),
  })
  .strict();

const createTenant = createRoute({
  method: 'post',
  path: '/v1/tenants',
  summary: 'Create a tenant and its first API key (operator only)',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: CreateTenantSchema } }, required: true } },
  responses: {
    201: {
      description: 'The tenant and its key, shown once',
      content: { 'application/json': { schema: z.object({ id: z.string(), name: z.string(), api_key: z.string(), scopes: z.array(z.string()) }) } },
    },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

export function registerTenants(app: App) {
  app.openapi(createTenant, async (c) => {
    if (c.get('caller').tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', 'only the operator tenant creates tenants', { scope: 'admin' });
    const deps = c.get('deps');
    const body = c.req.valid('json');
    const now = deps.now?.() ?? Date.now();
    const id = newId('ten', now);
    const apiKey = newSecret('pl');
    const keyId = newId('key', now);
    await deps.store.createTenant({ id, name: body.name, now }, { id: keyId, keyHash: await sha256Hex(apiKey), prefix: apiKey.slice(0, 8), scopes: body.scopes });
    await recordAudit(deps, { actor: actorOf(c.get('caller')), tenantId: id, action: 'tenant.create', target: { kind: 'tenant', id }, before: null, after: { id, name: body.name, initial_key: { id: keyId, prefix: apiKey.slice(0, 8), scopes: body.scopes } } });
    return c.json({ id, name: body.name, api_key: apiKey, scopes: body.scopes }, 201);
  });
}
