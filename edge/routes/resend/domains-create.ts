import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { createSendingDomain } from '../../services/sending-domains.ts';
import { checkDomainOptions, resendDomain } from '../../services/resend-domains.ts';
import { ResendCreateDomainSchema, ResendDomainSchema } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';
import { actorOf } from '../../services/audit.ts';

const route = createRoute({
  method: 'post',
  path: '/domains',
  summary: 'Add a sending domain (Resend-compatible)',
  description:
    'As POST /v1/domains (DKIM key, ownership token, a first DNS check), answered in Resend\'s shape; an existing domain is returned as it is. `custom_return_path` names the return-path subdomain (default `bounces`).',
  middleware: [resendAuth('admin')] as const,
  request: { body: { content: { 'application/json': { schema: ResendCreateDomainSchema } }, required: true } },
  responses: {
    200: { description: 'The domain and the records to publish', content: { 'application/json': { schema: ResendDomainSchema } } },
    ...resendErrorResponses([400, 401, 403, 422, 503]),
  },
});

export function registerResendCreateDomain(app: App) {
  app.openapi(
    route,
    async (c) => {
      const body = c.req.valid('json');
      checkDomainOptions(body);
      const out = await createSendingDomain(
        c.get('deps'),
        c.get('caller').tenantId,
        { domain: body.name, dkimAlgorithm: 'rsa-sha256', returnPathDomain: body.custom_return_path ? `${body.custom_return_path}.${body.name}` : undefined },
        { domain: 'name', returnPath: 'custom_return_path' },
        actorOf(c.get('caller')),
      );
      return c.json(resendDomain(out.row, out.targets), 200);
    },
    resendHook,
  );
}
