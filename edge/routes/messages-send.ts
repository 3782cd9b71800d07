import { createRoute } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { AcceptedMessageSchema, ErrorSchema, SendMessageSchema } from '../../shared/api.ts';
import { requireScope } from '../middleware/auth.ts';
import { sendMessages } from '../services/send.ts';
import { errorResponses } from './responses.ts';

const route = createRoute({
  method: 'post',
  path: '/v1/messages',
  summary: 'Send one message',
  description: 'Accepts, deduplicates (Idempotency-Key) and durably stores a message; 202 means it and its delivery jobs are committed.',
  middleware: [requireScope('send')] as const,
  request: { body: { content: { 'application/json': { schema: SendMessageSchema } }, required: true } },
  responses: {
    202: { description: 'Accepted and committed', content: { 'application/json': { schema: AcceptedMessageSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 409, 413, 429, 503]),
  },
});

export function registerSendMessage(app: App) {
  app.openapi(route, async (c) => {
    const out = await sendMessages(c, [c.req.valid('json')], 'single');
    if (out.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(out.body as never, 202);
  });
}
