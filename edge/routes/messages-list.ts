import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema, MessageListQuerySchema, MessageSummarySchema } from '../../shared/api.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorResponses } from './responses.ts';

const route = createRoute({
  method: 'get',
  path: '/v1/messages',
  summary: 'Query messages by status, lane, recipient domain, provider and time',
  middleware: [requireScope('read')] as const,
  request: { query: MessageListQuerySchema },
  responses: {
    200: {
      description: 'Newest first; page with `cursor` = the `next_cursor` of the previous page',
      content: { 'application/json': { schema: z.object({ data: z.array(MessageSummarySchema), next_cursor: z.string().nullable(), has_more: z.boolean() }) } },
    },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

export function registerListMessages(app: App) {
  app.openapi(route, async (c) => {
    const q = c.req.valid('query');
    // One row more than the page tells whether another page exists.
    const rows = await c.get('deps').store.listMessages(c.get('caller').tenantId, { ...q, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const hasMore = rows.length > q.limit;
    return c.json(
      {
        next_cursor: hasMore ? page.at(-1)!.id : null,
        has_more: hasMore,
        data: page.map((r) => ({
          id: r.id,
          status: r.status,
          from: r.fromAddress,
          subject: r.subject,
          lane: r.lane,
          created_at: new Date(r.createdAt).toISOString(),
          recipients: r.recipients,
        })),
      },
      200,
    );
  });
}
