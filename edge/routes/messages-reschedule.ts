import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema, RescheduleMessageSchema, ScheduleChangedSchema } from '../../shared/api.ts';
import { invalid } from '../../shared/errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { rescheduleMessage } from '../services/schedule.ts';
import { errorResponses } from './responses.ts';

const route = createRoute({
  method: 'patch',
  path: '/v1/messages/{id}',
  summary: "Move a message's send time (send_at) before any of its jobs is leased",
  description: 'Body `{ "send_at": "<ISO 8601>" }` (or `scheduled_at`). A `rescheduled` event joins the trace. 409 once a node has leased or tried any recipient.',
  middleware: [requireScope('send')] as const,
  request: {
    params: z.object({ id: z.string().max(64) }),
    body: { content: { 'application/json': { schema: RescheduleMessageSchema } }, required: true },
  },
  responses: {
    200: { description: 'Rescheduled', content: { 'application/json': { schema: ScheduleChangedSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 404, 409, 503]),
  },
});

export function registerRescheduleMessage(app: App) {
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    if (body.send_at && body.scheduled_at && Date.parse(body.send_at) !== Date.parse(body.scheduled_at)) {
      throw invalid('scheduled_at', 'is an alias of send_at and differs from it; give one of the two');
    }
    const field = body.scheduled_at && !body.send_at ? 'scheduled_at' : 'send_at';
    const out = await rescheduleMessage(c.get('deps'), c.get('caller').tenantId, c.req.valid('param').id, body.send_at ?? body.scheduled_at, field);
    return c.json(out, 200);
  });
}
