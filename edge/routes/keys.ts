/** API keys of a tenant as resources: create (secret shown once), list, revoke, rotate. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { App, AppEnv } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ApiKeySchema, CreateApiKeySchema, RotateSchema } from '../../shared/operator-api.ts';
import { ApiError } from '../../shared/errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { actorOf } from '../services/audit.ts';
import { apiKeyView, createApiKey, revokeApiKey, rotateApiKey } from '../services/keys.ts';
import { errorResponses } from './responses.ts';

const TenantQuery = z.object({ tenant_id: z.string().min(1).max(64).optional().openapi({ description: "Operator only: another tenant's keys" }) });
const IdParam = z.object({ id: z.string().min(1).max(64) });
const CreatedSchema = ApiKeySchema.extend({ api_key: z.string().openapi({ description: 'The secret, shown this once' }) });

const create = createRoute({
  method: 'post',
  path: '/v1/keys',
  summary: 'Create an API key with a name and scopes (e.g. a `feedback`-only key for the inbound pipe); the secret is shown once',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: CreateApiKeySchema } }, required: true } },
  responses: { 201: { description: 'The key and its secret', content: { 'application/json': { schema: CreatedSchema } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

const list = createRoute({
  method: 'get',
  path: '/v1/keys',
  summary: "The tenant's API keys: id, name, prefix, scopes, created, last used (updated at most once a minute), revoked",
  middleware: [requireScope('admin')] as const,
  request: { query: TenantQuery },
  responses: { 200: { description: 'Keys', content: { 'application/json': { schema: z.object({ data: z.array(ApiKeySchema) }) } } }, ...errorResponses(ErrorSchema, [401, 403, 503]) },
});

const revoke = createRoute({
  method: 'delete',
  path: '/v1/keys/{id}',
  summary: 'Revoke an API key: it is refused from now on',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam, query: TenantQuery },
  responses: { 200: { description: 'Revoked', content: { 'application/json': { schema: ApiKeySchema } } }, ...errorResponses(ErrorSchema, [401, 403, 404, 409, 503]) },
});

const rotate = createRoute({
  method: 'post',
  path: '/v1/keys/{id}/rotate',
  summary: 'Rotate an API key: a new key with the same name and scopes (secret shown once); the old one stops now, or after `overlap_seconds`',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam, query: TenantQuery, body: { content: { 'application/json': { schema: RotateSchema } }, required: false } },
  responses: {
    201: { description: 'The new key; `replaced` is the old one with the end of its validity', content: { 'application/json': { schema: CreatedSchema.extend({ replaced: ApiKeySchema }) } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 404, 409, 503]),
  },
});

/** Whose keys: the caller's tenant; the operator may name another. */
function tenantOf(c: Context<AppEnv>, asked: string | undefined): string {
  const { tenantId } = c.get('caller');
  if (asked === undefined || asked === tenantId) return tenantId;
  if (tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', "only the operator tenant manages another tenant's keys", { scope: 'admin' });
  return asked;
}

export function registerKeys(app: App) {
  app.openapi(create, async (c) => {
    const deps = c.get('deps');
    const body = c.req.valid('json');
    const tenantId = tenantOf(c, body.tenant_id);
    // Every tenant got a key at creation (POST /v1/tenants), so a tenant without one does not exist.
    if (tenantId !== c.get('caller').tenantId && (await deps.store.listApiKeys(tenantId)).length === 0) throw new ApiError('not_found', `no tenant ${tenantId}`);
    const { key, secret } = await createApiKey(deps, actorOf(c.get('caller')), tenantId, body);
    return c.json({ ...apiKeyView(key), api_key: secret }, 201);
  });

  app.openapi(list, async (c) => {
    const tenantId = tenantOf(c, c.req.valid('query').tenant_id);
    return c.json({ data: (await c.get('deps').store.listApiKeys(tenantId)).map(apiKeyView) }, 200);
  });

  app.openapi(revoke, async (c) => {
    const tenantId = tenantOf(c, c.req.valid('query').tenant_id);
    return c.json(apiKeyView(await revokeApiKey(c.get('deps'), actorOf(c.get('caller')), tenantId, c.req.valid('param').id)), 200);
  });

  app.openapi(rotate, async (c) => {
    const deps = c.get('deps');
    const tenantId = tenantOf(c, c.req.valid('query').tenant_id);
    const { id } = c.req.valid('param');
    // The body is optional: without one the old key stops now.
    const overlap = (c.req.valid('json') as { overlap_seconds?: number } | undefined)?.overlap_seconds ?? 0;
    const { key, secret } = await rotateApiKey(deps, actorOf(c.get('caller')), tenantId, id, overlap);
    const replaced = (await deps.store.getApiKey(tenantId, id))!;
    return c.json({ ...apiKeyView(key), api_key: secret, replaced: apiKeyView(replaced) }, 201);
  });
}
