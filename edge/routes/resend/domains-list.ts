import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { page, resendDomain } from '../../services/resend-domains.ts';
import { ResendDomainListSchema, ResendListQuerySchema } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'get',
  path: '/domains',
  summary: "The tenant's sending domains, newest first (Resend-compatible)",
  middleware: [resendAuth('read')] as const,
  request: { query: ResendListQuerySchema },
  responses: {
    200: { description: 'Domains', content: { 'application/json': { schema: ResendDomainListSchema } } },
    ...resendErrorResponses([401, 403, 422, 503]),
  },
});

export function registerResendListDomains(app: App) {
  app.openapi(
    route,
    async (c) => {
      const rows = await c.get('deps').store.listDomains(c.get('caller').tenantId);
      const newest = rows.map((r) => resendDomain(r, null)).sort((a, b) => b.created_at.localeCompare(a.created_at));
      return c.json({ object: 'list' as const, ...page(newest, c.req.valid('query')) }, 200);
    },
    resendHook,
  );
}
