import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { cancelMessage } from '../../services/schedule.ts';
import { ResendEmailRefSchema, ResendIdParam } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'post',
  path: '/emails/{id}/cancel',
  summary: 'Cancel a scheduled email (Resend-compatible)',
  description: 'As POST /v1/messages/{id}/cancel: only while no recipient has been leased to a node (422 validation_error after).',
  middleware: [resendAuth('send')] as const,
  request: { params: ResendIdParam },
  responses: {
    200: { description: 'Canceled', content: { 'application/json': { schema: ResendEmailRefSchema } } },
    ...resendErrorResponses([401, 403, 404, 422, 503]),
  },
});

export function registerResendCancelEmail(app: App) {
  app.openapi(
    route,
    async (c) => {
      const out = await cancelMessage(c.get('deps'), c.get('caller').tenantId, c.req.valid('param').id);
      return c.json({ object: 'email' as const, id: out.id }, 200);
    },
    resendHook,
  );
}
