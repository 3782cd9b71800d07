import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { sendMessages } from '../../services/send.ts';
import { LANE_HEADER, toSendMessage } from '../../services/resend-emails.ts';
import { ResendCreatedSchema, ResendEmailSchema } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'post',
  path: '/emails',
  summary: 'Send an email (Resend-compatible)',
  description:
    "Resend's POST /emails over Postlane's send path: the same validation, Idempotency-Key, suppression and lanes as POST /v1/messages. The lane is a `lane` tag or the X-Postlane-Lane header; `scheduled_at` is ISO 8601.",
  middleware: [resendAuth('send')] as const,
  request: { body: { content: { 'application/json': { schema: ResendEmailSchema } }, required: true } },
  responses: {
    200: { description: 'Accepted and committed', content: { 'application/json': { schema: ResendCreatedSchema } } },
    ...resendErrorResponses([400, 401, 403, 409, 413, 422, 429, 503]),
  },
});

export function registerResendSendEmail(app: App) {
  app.openapi(
    route,
    async (c) => {
      const message = toSendMessage(c.req.valid('json'), c.req.header(LANE_HEADER)?.trim().toLowerCase() || null);
      const out = await sendMessages(c, [message], 'single', (items) => ({ id: items[0].message.id }));
      return c.json(out.body as { id: string }, 200);
    },
    resendHook,
  );
}
