import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { HoldDecisionResultSchema, HoldDecisionSchema, HoldListQuerySchema, HoldListSchema } from '../../shared/api-operator.ts';
import { requireScope } from '../middleware/auth.ts';
import { decideHold, holdView } from '../services/holds.ts';
import { errorResponses } from './responses.ts';

const HoldParams = z.object({ id: z.string().regex(/^hold_[A-Za-z0-9_-]{1,64}$/, 'expected a hold id') });

const list = createRoute({
  method: 'get',
  path: '/v1/holds',
  summary: 'Rogue batches held for approval (and decided ones), newest first',
  middleware: [requireScope('read')] as const,
  request: { query: HoldListQuerySchema },
  responses: {
    200: { description: 'A page of holds', content: { 'application/json': { schema: HoldListSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const decision = (verb: 'approve' | 'reject') =>
  createRoute({
    method: 'post',
    path: `/v1/holds/{id}/${verb}`,
    summary: verb === 'approve' ? "Approve a hold: its held jobs are queued for delivery (audited)" : 'Reject a hold: its held jobs are never sent (audited)',
    middleware: [requireScope('admin')] as const,
    request: { params: HoldParams, body: { content: { 'application/json': { schema: HoldDecisionSchema } }, required: false } },
    responses: {
      200: { description: 'Decided', content: { 'application/json': { schema: HoldDecisionResultSchema } } },
      ...errorResponses(ErrorSchema, [400, 401, 403, 404, 409, 503]),
    },
  });

export function registerHolds(app: App) {
  app.openapi(list, async (c) => {
    const { store } = c.get('deps');
    const q = c.req.valid('query');
    const rows = await store.listHolds(c.get('caller').tenantId, { status: q.status, before: q.cursor, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const counts = await store.heldJobCounts(page);
    const hasMore = rows.length > q.limit;
    return c.json({ data: page.map((h) => holdView(h, counts.get(h.id) ?? null)), next_cursor: hasMore ? page.at(-1)!.id : null, has_more: hasMore }, 200);
  });

  for (const [verb, status] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    app.openapi(decision(verb), async (c) => {
      const body = c.req.header('content-type')?.includes('json') ? c.req.valid('json') : {};
      return c.json(await decideHold(c.get('deps'), c.get('caller'), c.req.valid('param').id, status, body?.reason ?? null), 200);
    });
  }
}
