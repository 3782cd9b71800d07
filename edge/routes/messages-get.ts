import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema, MessageViewSchema, type MessageView } from '../../shared/api.ts';
import type { MessageEventType } from '../../shared/events/index.ts';
import { ApiError } from '../../shared/errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { messageStatus } from '../domain/message-status.ts';
import { errorResponses } from './responses.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const route = createRoute({
  method: 'get',
  path: '/v1/messages/{id}',
  summary: 'A message: status per recipient and the ordered event trace',
  middleware: [requireScope('read')] as const,
  request: { params: z.object({ id: z.string().max(64) }) },
  responses: {
    200: { description: 'The message', content: { 'application/json': { schema: MessageViewSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 404, 503]),
  },
});

export function registerGetMessage(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const found = await c.get('deps').store.getMessage(c.get('caller').tenantId, id);
    if (!found) throw new ApiError('not_found', `no message ${id}`);
    const { message, jobs, events } = found;
    const view: MessageView = {
      id: message.id,
      status: messageStatus(jobs.map((j) => j.state)),
      from: message.fromAddress,
      subject: message.subject,
      lane: message.lane,
      pool: message.pool,
      message_id_header: message.messageIdHeader,
      size_bytes: message.sizeBytes,
      tags: message.tags ?? null,
      created_at: new Date(message.createdAt).toISOString(),
      recipients: jobs.map((j) => ({
        job_id: j.id,
        recipient: j.recipient,
        kind: j.recipientKind,
        domain: j.domain,
        provider: j.provider,
        pool: j.pool,
        state: j.state,
        attempts: j.attempts,
        next_attempt_at: j.state === 'queued' ? iso(j.nextAttemptAt) : null,
        last_reply: j.lastReply,
        last_class: j.lastClass,
      })),
      events: events.map((e, i) => ({ seq: i + 1, type: e.type as MessageEventType, at: new Date(e.at).toISOString(), job_id: e.jobId, data: e.data ?? null })),
    };
    return c.json(view, 200);
  });
}
