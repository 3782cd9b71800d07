import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { checkSendingDomain } from '../../services/sending-domains.ts';
import { ResendDomainRefSchema, ResendIdParam } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'post',
  path: '/domains/{id}/verify',
  summary: "Check the domain's DNS now (Resend-compatible)",
  description: 'Done before the answer (Resend queues it): GET /domains/{id} shows the outcome at once. 422 validation_error when another tenant holds the domain verified.',
  middleware: [resendAuth('admin')] as const,
  request: { params: ResendIdParam },
  responses: {
    200: { description: 'Checked', content: { 'application/json': { schema: ResendDomainRefSchema } } },
    ...resendErrorResponses([401, 403, 404, 422, 503]),
  },
});

export function registerResendVerifyDomain(app: App) {
  app.openapi(
    route,
    async (c) => {
      const out = await checkSendingDomain(c.get('deps'), c.get('caller').tenantId, c.req.valid('param').id);
      return c.json({ object: 'domain' as const, id: out.row.id }, 200);
    },
    resendHook,
  );
}
