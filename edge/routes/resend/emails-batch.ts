import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { sendMessages } from '../../services/send.ts';
import { LANE_HEADER, toSendMessage } from '../../services/resend-emails.ts';
import { ResendError } from '../../services/resend-errors.ts';
import { ResendBatchCreatedSchema, ResendBatchSchema } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'post',
  path: '/emails/batch',
  summary: 'Send up to 100 emails in one request (Resend-compatible)',
  description:
    'All or nothing (`x-batch-validation: strict`, the SDK default): every email is validated, then all are committed in one transaction with the Idempotency-Key.',
  middleware: [resendAuth('send')] as const,
  request: { body: { content: { 'application/json': { schema: ResendBatchSchema } }, required: true } },
  responses: {
    200: { description: 'All accepted and committed', content: { 'application/json': { schema: ResendBatchCreatedSchema } } },
    ...resendErrorResponses([400, 401, 403, 409, 413, 422, 429, 503]),
  },
});

export function registerResendSendBatch(app: App) {
  app.openapi(
    route,
    async (c) => {
      const mode = c.req.header('x-batch-validation') ?? 'strict';
      if (mode !== 'strict') {
        throw new ResendError('invalid_parameter', `x-batch-validation: ${mode} is not supported; Postlane commits a batch all or nothing (strict).`);
      }
      const lane = c.req.header(LANE_HEADER)?.trim().toLowerCase() || null;
      const messages = c.req.valid('json').map((email, i) => toSendMessage(email, lane, `[${i}].`));
      const out = await sendMessages(c, messages, 'batch', (items) => ({ data: items.map((i) => ({ id: i.message.id })) }));
      return c.json(out.body as { data: Array<{ id: string }> }, 200);
    },
    resendHook,
  );
}
