/** Pools as resources: list, create shared or dedicated, assign a tenant, delete. */
import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { CreatePoolSchema, PoolNameSchema, PoolSchema, UpdatePoolSchema } from '../../shared/operator-api.ts';
import { requireOperator, requireScope } from '../middleware/auth.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { actorOf } from '../services/audit.ts';
import { createPool, deletePool, poolView, updatePool } from '../services/pools.ts';
import { errorResponses } from './responses.ts';

const NameParam = z.object({ name: PoolNameSchema });

const list = createRoute({
  method: 'get',
  path: '/v1/pools',
  summary: "Pools: every one for the operator; the shared ones and the tenant's own dedicated ones for a tenant",
  middleware: [requireScope('read')] as const,
  responses: { 200: { description: 'Pools', content: { 'application/json': { schema: z.object({ data: z.array(PoolSchema) }) } } }, ...errorResponses(ErrorSchema, [401, 403, 503]) },
});

const create = createRoute({
  method: 'post',
  path: '/v1/pools',
  summary: 'Create a pool: shared, or dedicated to `tenant_id` (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages pools')] as const,
  request: { body: { content: { 'application/json': { schema: CreatePoolSchema } }, required: true } },
  responses: { 201: { description: 'Created', content: { 'application/json': { schema: PoolSchema } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 409, 503]) },
});

const update = createRoute({
  method: 'patch',
  path: '/v1/pools/{name}',
  summary: 'Assign a pool to a tenant (dedicated: only its mail is leased from it) or back to shared (null); description (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages pools')] as const,
  request: { params: NameParam, body: { content: { 'application/json': { schema: UpdatePoolSchema } }, required: true } },
  responses: { 200: { description: 'Updated', content: { 'application/json': { schema: PoolSchema } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/pools/{name}',
  summary: 'Delete a pool with no IP bound to it (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages pools')] as const,
  request: { params: NameParam },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(ErrorSchema, [401, 403, 404, 409, 503]) },
});


export function registerPools(app: App) {
  app.openapi(list, async (c) => {
    const { store } = c.get('deps');
    const { tenantId } = c.get('caller');
    const [pools, ips] = await Promise.all([store.listPools(), store.listSourceIps()]);
    const visible = tenantId === OPERATOR_TENANT ? pools : pools.filter((p) => p.tenantId === null || p.tenantId === tenantId);
    // A tenant sees which pools it may use, not the platform's addresses.
    return c.json({ data: visible.map((p) => poolView(p, tenantId === OPERATOR_TENANT ? ips : [])) }, 200);
  });

  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    const pool = await createPool(c.get('deps'), actorOf(c.get('caller')), { name: body.name, tenantId: body.tenant_id ?? null, description: body.description ?? null });
    return c.json(poolView(pool, []), 201);
  });

  app.openapi(update, async (c) => {
    const body = c.req.valid('json');
    const patch = { ...(body.tenant_id !== undefined ? { tenantId: body.tenant_id } : {}), ...(body.description !== undefined ? { description: body.description } : {}) };
    const { pool, ips } = await updatePool(c.get('deps'), actorOf(c.get('caller')), c.req.valid('param').name, patch);
    return c.json(poolView(pool, ips), 200);
  });

  app.openapi(remove, async (c) => {
    await deletePool(c.get('deps'), actorOf(c.get('caller')), c.req.valid('param').name);
    return c.body(null, 204);
  });
}
