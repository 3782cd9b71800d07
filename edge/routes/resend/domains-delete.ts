import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { deleteSendingDomain } from '../../services/sending-domains.ts';
import { ResendDomainRefSchema, ResendIdParam } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';
import { actorOf } from '../../services/audit.ts';

const route = createRoute({
  method: 'delete',
  path: '/domains/{id}',
  summary: 'Remove a sending domain and its DKIM key (Resend-compatible)',
  description: 'New mail from the domain is refused at accept from then on. 422 validation_error while mail from it still waits to be sent (cancel it first).',
  middleware: [resendAuth('admin')] as const,
  request: { params: ResendIdParam },
  responses: {
    200: { description: 'Removed', content: { 'application/json': { schema: ResendDomainRefSchema } } },
    ...resendErrorResponses([401, 403, 404, 422, 503]),
  },
});

export function registerResendDeleteDomain(app: App) {
  app.openapi(
    route,
    async (c) => {
      const { id } = c.req.valid('param');
      await deleteSendingDomain(c.get('deps'), c.get('caller').tenantId, id, actorOf(c.get('caller')));
      return c.json({ object: 'domain' as const, id, deleted: true }, 200);
    },
    resendHook,
  );
}
