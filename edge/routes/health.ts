import { z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { toApiError } from '../middleware/errors.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { deliveryMetricsText } from '../services/stats.ts';
import { errorResponses } from './responses.ts';

export function registerHealth(app: App) {
  // Plain handlers (a text body and a probe that answers 503 itself), documented here.
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness and store reachability (no key)',
    security: [],
    responses: {
      200: { description: 'Up', content: { 'application/json': { schema: z.object({ ok: z.boolean(), store: z.string() }) } } },
      503: { description: 'The store is unreachable; Retry-After says when to look again', content: { 'application/json': { schema: ErrorSchema } } },
    },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (a key of the operator tenant, any scope, as `Authorization: Bearer`)',
    responses: {
      200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: z.string() } } },
      ...errorResponses(ErrorSchema, [401, 403]),
    },
  });

  app.get('/healthz', async (c) => {
    try {
      await c.get('deps').store.ping();
      return c.json({ ok: true, store: 'up' });
    } catch (error) {
      const e = toApiError(error);
      c.header('Retry-After', String(e.retryAfterSeconds ?? 1));
      return c.json({ ok: false, store: 'down', ...e.toBody() }, 503);
    }
  });

  app.get('/metrics', requireScope('any'), async (c) => {
    // Per-pool, per-tenant and node series are the platform's internals.
    if (c.get('caller').tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', 'only the operator tenant reads /metrics');
    const metrics = c.get('deps').metrics;
    // The delivery rollups' counters are read from the store (every edge instance sees the same).
    const [own, deliveries] = await Promise.all([metrics.render(), deliveryMetricsText(c.get('deps').store)]);
    return c.body(`${own.endsWith('\n') ? own : `${own}\n`}${deliveries}`, 200, { 'content-type': metrics.contentType });
  });
}
