import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema, ScheduleChangedSchema } from '../../shared/api.ts';
import { requireScope } from '../middleware/auth.ts';
import { cancelMessage } from '../services/schedule.ts';
import { errorResponses } from './responses.ts';

const route = createRoute({
  method: 'post',
  path: '/v1/messages/{id}/cancel',
  summary: 'Cancel a message before any of its jobs is leased',
  description:
    'Its queued jobs become `canceled` and are never sent; a `canceled` event joins the trace. 409 once a node has leased or tried any recipient.',
  middleware: [requireScope('send')] as const,
  request: { params: z.object({ id: z.string().max(64) }) },
  responses: {
    200: { description: 'Canceled', content: { 'application/json': { schema: ScheduleChangedSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 404, 409, 503]),
  },
});

export function registerCancelMessage(app: App) {
  app.openapi(route, async (c) => {
    const out = await cancelMessage(c.get('deps'), c.get('caller').tenantId, c.req.valid('param').id);
    return c.json(out, 200);
  });
}
