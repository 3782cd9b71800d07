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
    200: { description: 'Newest first', content: { 'application/json': { schema: z.object({ data: z.array(MessageSummarySchema) }) } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

export function registerListMessages(app: App) {
  app.openapi(route, async (c) => {
    const rows = await c.get('deps').store.listMessages(c.get('caller').tenantId, c.req.valid('query'));
    return c.json(
      {
        data: rows.map((r) => ({
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
