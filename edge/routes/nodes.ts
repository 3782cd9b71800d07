import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { CreateNodeTokenSchema, ErrorSchema } from '../../shared/api.ts';
import { actorOf } from '../services/audit.ts';
import { createNodeToken } from '../services/keys.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorResponses } from './responses.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { ApiError } from '../../shared/errors.ts';

const NodeSchema = z.object({
  node_id: z.string(),
  region: z.string(),
  version: z.string(),
  ips: z.array(z.object({ address: z.string(), pool: z.string(), ehlo: z.string() })),
  credits: z.number().int(),
  leased: z.number().int(),
  connected_at: z.string(),
});

const listNodes = createRoute({
  method: 'get',
  path: '/v1/nodes',
  summary: 'Connected MTA nodes and their source IPs (operator only)',
  middleware: [requireScope('admin')] as const,
  responses: {
    200: { description: 'Nodes', content: { 'application/json': { schema: z.object({ data: z.array(NodeSchema) }) } } },
    ...errorResponses(ErrorSchema, [401, 403]),
  },
});

const createToken = createRoute({
  method: 'post',
  path: '/v1/nodes/tokens',
  summary: 'Issue a node token for a region and the source IPs the node may use',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: CreateNodeTokenSchema } }, required: true } },
  responses: {
    201: { description: 'The token, shown once', content: { 'application/json': { schema: z.object({ id: z.string(), token: z.string(), region: z.string(), allowed_ips: z.array(z.string()) }) } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

export function registerNodes(app: App) {
  app.openapi(listNodes, async (c) => {
    // Nodes and their IPs are the platform's infrastructure.
    if (c.get('caller').tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', 'only the operator tenant lists nodes', { scope: 'admin' });
    const nodes = await c.get('deps').hub.nodes();
    return c.json(
      {
        data: nodes.map((n) => ({
          node_id: n.nodeId,
          region: n.region,
          version: n.version,
          ips: n.ips,
          credits: n.credits,
          leased: n.leased,
          connected_at: new Date(n.connectedAt).toISOString(),
        })),
      },
      200,
    );
  });

  app.openapi(createToken, async (c) => {
    if (c.get('caller').tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', 'only the operator tenant issues node tokens', { scope: 'admin' });
    const body = c.req.valid('json');
    const { token, secret } = await createNodeToken(c.get('deps'), actorOf(c.get('caller')), { region: body.region, allowedIps: body.allowed_ips, name: body.name ?? null });
    return c.json({ id: token.id, token: secret, region: token.region, allowed_ips: token.allowedIps }, 201);
  });

  // The WebSocket upgrade itself is runtime-specific: the hub port takes the request.
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/v1/nodes/connect',
    summary: 'WebSocket upgrade for an MTA node (lease protocol, shared/protocol.ts); `Authorization: Bearer <node token>`',
    request: { query: z.object({ region: z.string().optional() }) },
    responses: {
      101: { description: 'Switching protocols: the lease session' },
      ...errorResponses(ErrorSchema, [401, 403, 426]),
    },
  });
  app.get('/v1/nodes/connect', async (c) => {
    const region = c.req.query('region') ?? c.req.header('x-postlane-region') ?? 'default';
    return c.get('deps').hub.connect(c.req.raw, region);
  });
}
