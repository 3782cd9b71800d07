import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../context.ts';
import { page } from '../../services/resend-domains.ts';
import { ResendApiKeyListSchema, ResendListQuerySchema } from '../../services/resend-schemas.ts';
import { resendAuth, resendErrorResponses, resendHook } from './common.ts';

const route = createRoute({
  method: 'get',
  path: '/api-keys',
  summary: "The tenant's live API keys, newest first (Resend-compatible)",
  description: 'Revoked keys are left out; a rotated key is listed until its overlap ends. Keys are made and revoked with /v1/keys.',
  middleware: [resendAuth('admin')] as const,
  request: { query: ResendListQuerySchema },
  responses: {
    200: { description: 'API keys', content: { 'application/json': { schema: ResendApiKeyListSchema } } },
    ...resendErrorResponses([401, 403, 422, 503]),
  },
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function registerResendListApiKeys(app: App) {
  app.openapi(
    route,
    async (c) => {
      const deps = c.get('deps');
      const now = deps.now?.() ?? Date.now();
      const keys = await deps.store.listApiKeys(c.get('caller').tenantId);
      const live = keys
        .filter((k) => k.revokedAt === null || k.revokedAt > now)
        .map((k) => ({ id: k.id, name: k.name ?? k.prefix, created_at: new Date(k.createdAt).toISOString(), last_used_at: iso(k.lastUsedAt) }))
        .reverse();
      return c.json({ object: 'list' as const, ...page(live, c.req.valid('query')) }, 200);
    },
    resendHook,
  );
}
