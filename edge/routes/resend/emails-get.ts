import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { ResendError } from '../../services/resend-errors.ts';
import { emailView } from '../../services/resend-emails.ts';
import { ResendEmailViewSchema, ResendIdParam } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'get',
  path: '/emails/{id}',
  summary: 'Retrieve an email (Resend-compatible)',
  description: '`last_event` is the newest trace event Resend has a name for; GET /v1/messages/{id} has the whole trace.',
  middleware: [resendAuth('read')] as const,
  request: { params: ResendIdParam },
  responses: {
    200: { description: 'The email', content: { 'application/json': { schema: ResendEmailViewSchema } } },
    ...resendErrorResponses([401, 403, 404, 503]),
  },
});

export function registerResendGetEmail(app: App) {
  app.openapi(
    route,
    async (c) => {
      const { id } = c.req.valid('param');
      const found = await c.get('deps').store.getMessage(c.get('caller').tenantId, id);
      if (!found) throw new ResendError('not_found', 'Email not found');
      return c.json(emailView(found), 200);
    },
    resendHook,
  );
}
