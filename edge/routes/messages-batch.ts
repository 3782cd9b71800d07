import { createRoute } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { BatchAcceptedSchema, BatchSendSchema, ErrorSchema } from '../../shared/api.ts';
import { requireScope } from '../middleware/auth.ts';
import { sendMessages } from '../services/send.ts';
import { errorResponses } from './responses.ts';

const route = createRoute({
  method: 'post',
  path: '/v1/messages/batch',
  summary: 'Send up to 1,000 messages in one request',
  description: 'All or nothing: every message is validated first, then all are committed in one transaction.',
  middleware: [requireScope('send')] as const,
  request: { body: { content: { 'application/json': { schema: BatchSendSchema } }, required: true } },
  responses: {
    202: { description: 'All accepted and committed', content: { 'application/json': { schema: BatchAcceptedSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 409, 413, 429, 503]),
  },
});

export function registerSendBatch(app: App) {
  app.openapi(route, async (c) => {
    const out = await sendMessages(c, c.req.valid('json').messages, 'batch');
    if (out.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(out.body as never, 202);
  });
}
