/** Node tokens as the operator's resources: list, revoke, rotate (issue: POST /v1/nodes/tokens). */
import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { NodeTokenSchema, RotateSchema } from '../../shared/operator-api.ts';
import { requireOperator, requireScope } from '../middleware/auth.ts';
import { actorOf } from '../services/audit.ts';
import { nodeTokenView, revokeNodeToken, rotateNodeToken } from '../services/keys.ts';
import { errorResponses } from './responses.ts';

const IdParam = z.object({ id: z.string().min(1).max(64) });

const list = createRoute({
  method: 'get',
  path: '/v1/nodes/tokens',
  summary: 'Node tokens: id, name, region, allowed IPs, created, rotated, revoked (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages node tokens')] as const,
  responses: { 200: { description: 'Tokens', content: { 'application/json': { schema: z.object({ data: z.array(NodeTokenSchema) }) } } }, ...errorResponses(ErrorSchema, [401, 403, 503]) },
});

const revoke = createRoute({
  method: 'delete',
  path: '/v1/nodes/tokens/{id}',
  summary: 'Revoke a node token: its nodes are refused at their next connect (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages node tokens')] as const,
  request: { params: IdParam },
  responses: { 200: { description: 'Revoked', content: { 'application/json': { schema: NodeTokenSchema } } }, ...errorResponses(ErrorSchema, [401, 403, 404, 409, 503]) },
});

const rotate = createRoute({
  method: 'post',
  path: '/v1/nodes/tokens/{id}/rotate',
  summary: 'Rotate a node token: a new secret for the same token (shown once); the old secret stops now, or after `overlap_seconds` (operator only)',
  middleware: [requireScope('admin'), requireOperator('manages node tokens')] as const,
  request: { params: IdParam, body: { content: { 'application/json': { schema: RotateSchema } }, required: false } },
  responses: {
    201: { description: 'The token and its new secret', content: { 'application/json': { schema: NodeTokenSchema.extend({ token: z.string() }) } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 404, 409, 503]),
  },
});


export function registerNodeTokens(app: App) {
  app.openapi(list, async (c) => {
    return c.json({ data: (await c.get('deps').store.listNodeTokens()).map(nodeTokenView) }, 200);
  });

  app.openapi(revoke, async (c) => {
    return c.json(nodeTokenView(await revokeNodeToken(c.get('deps'), actorOf(c.get('caller')), c.req.valid('param').id)), 200);
  });

  app.openapi(rotate, async (c) => {
    const overlap = (c.req.valid('json') as { overlap_seconds?: number } | undefined)?.overlap_seconds ?? 0;
    const { token, secret } = await rotateNodeToken(c.get('deps'), actorOf(c.get('caller')), c.req.valid('param').id, overlap);
    return c.json({ ...nodeTokenView(token), token: secret }, 201);
  });
}
