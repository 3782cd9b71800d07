import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { rescheduleMessage } from '../../services/schedule.ts';
import { scheduledAtOf } from '../../services/resend-emails.ts';
import { ResendEmailRefSchema, ResendIdParam, ResendUpdateEmailSchema } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'patch',
  path: '/emails/{id}',
  summary: 'Reschedule an email (Resend-compatible)',
  description: 'Body `{ "scheduled_at": "<ISO 8601>" }`; as PATCH /v1/messages/{id}, only while no recipient has been leased.',
  middleware: [resendAuth('send')] as const,
  request: { params: ResendIdParam, body: { content: { 'application/json': { schema: ResendUpdateEmailSchema } }, required: true } },
  responses: {
    200: { description: 'Rescheduled', content: { 'application/json': { schema: ResendEmailRefSchema } } },
    ...resendErrorResponses([400, 401, 403, 404, 422, 503]),
  },
});

export function registerResendUpdateEmail(app: App) {
  app.openapi(
    route,
    async (c) => {
      const { scheduled_at } = c.req.valid('json');
      const sendAt = scheduled_at === undefined ? undefined : scheduledAtOf(scheduled_at);
      const out = await rescheduleMessage(c.get('deps'), c.get('caller').tenantId, c.req.valid('param').id, sendAt, 'scheduled_at');
      return c.json({ object: 'email' as const, id: out.id }, 200);
    },
    resendHook,
  );
}
