/** Source IPs as resources: register to a pool (and a node token), list, retire (drain first). */
import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { PutSourceIpSchema, SourceIpViewSchema } from '../../shared/operator-api.ts';
import { requireOperator, requireScope } from '../middleware/auth.ts';
import { actorOf } from '../services/audit.ts';
import { putSourceIp, retireSourceIp, sourceIpView } from '../services/pools.ts';
import { errorResponses } from './responses.ts';

const AddressParam = z.object({ address: z.string().min(2).max(64) });

const list = createRoute({
  method: 'get',
  path: '/v1/ips',
  summary: 'Registered source IPs: pool, node token, status (active, draining, retired) (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages source IPs')] as const,
  responses: { 200: { description: 'IPs', content: { 'application/json': { schema: z.object({ data: z.array(SourceIpViewSchema) }) } } }, ...errorResponses(ErrorSchema, [401, 403, 503]) },
});

const put = createRoute({
  method: 'put',
  path: '/v1/ips/{address}',
  summary: 'Register a source IP or change its binding: the pool it serves, the node token allowed to send from it (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages source IPs')] as const,
  request: { params: AddressParam, body: { content: { 'application/json': { schema: PutSourceIpSchema } }, required: true } },
  responses: {
    201: { description: 'Registered', content: { 'application/json': { schema: SourceIpViewSchema } } },
    200: { description: 'Updated', content: { 'application/json': { schema: SourceIpViewSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 409, 503]),
  },
});

const retire = createRoute({
  method: 'post',
  path: '/v1/ips/{address}/retire',
  summary: 'Retire a source IP: it drains first (no new leases from now on), and is retired once no lease from it is in flight; call again until `status` is retired (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages source IPs')] as const,
  request: { params: AddressParam },
  responses: {
    200: { description: 'Retired', content: { 'application/json': { schema: SourceIpViewSchema } } },
    202: { description: 'Draining: `leases_outstanding` leases are still in flight', content: { 'application/json': { schema: SourceIpViewSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 404, 503]),
  },
});


export function registerSourceIps(app: App) {
  app.openapi(list, async (c) => {
    return c.json({ data: (await c.get('deps').store.listSourceIps()).map((ip) => sourceIpView(ip)) }, 200);
  });

  app.openapi(put, async (c) => {
    const body = c.req.valid('json');
    const { ip, created } = await putSourceIp(c.get('deps'), actorOf(c.get('caller')), c.req.valid('param').address, { pool: body.pool, nodeTokenId: body.node_token_id ?? null });
    return c.json(sourceIpView(ip), created ? 201 : 200);
  });

  app.openapi(retire, async (c) => {
    const { ip, outstanding } = await retireSourceIp(c.get('deps'), actorOf(c.get('caller')), c.req.valid('param').address);
    return c.json(sourceIpView(ip, outstanding), ip.status === 'retired' ? 200 : 202);
  });
}
