import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { authTargets } from '../../services/domain-check.ts';
import { domainNotFound } from '../../services/sending-domains.ts';
import { resendDomain } from '../../services/resend-domains.ts';
import { ResendDomainSchema, ResendIdParam } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'get',
  path: '/domains/{id}',
  summary: 'One sending domain with its records and their status (Resend-compatible)',
  middleware: [resendAuth('read')] as const,
  request: { params: ResendIdParam },
  responses: {
    200: { description: 'The domain', content: { 'application/json': { schema: ResendDomainSchema } } },
    ...resendErrorResponses([401, 403, 404, 503]),
  },
});

export function registerResendGetDomain(app: App) {
  app.openapi(
    route,
    async (c) => {
      const deps = c.get('deps');
      const { id } = c.req.valid('param');
      const row = await deps.store.getDomain(c.get('caller').tenantId, id);
      if (!row) throw domainNotFound(id);
      return c.json(resendDomain(row, await authTargets(deps)), 200);
    },
    resendHook,
  );
}
