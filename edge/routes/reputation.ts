import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorResponses } from './responses.ts';
import { reputationAudience, visibleTo } from '../services/reputation.ts';

const route = createRoute({
  method: 'get',
  path: '/v1/reputation',
  summary: 'Circuit breakers of pools and sender domains, adaptive rates per provider and pool, suspended IPs, and their recent transitions',
  description: 'The operator tenant sees the whole platform; any other tenant sees its own sending domains and outreach pauses, and the pools it owns or shares.',
  middleware: [requireScope('read')] as const,
  request: { query: z.object({ since: z.string().datetime({ offset: true }).optional(), limit: z.coerce.number().int().min(1).max(1000).default(200) }) },
  responses: {
    200: {
      description: 'Current state and transitions, newest first',
      content: {
        'application/json': {
          schema: z.object({
            breakers: z.array(z.record(z.string(), z.unknown())),
            rates: z.array(z.record(z.string(), z.unknown())),
            suspended_ips: z.array(z.record(z.string(), z.unknown())),
            events: z.array(z.object({ scope: z.string(), key: z.string(), type: z.string(), from: z.string().nullable(), to: z.string().nullable(), reason: z.string(), at: z.string(), data: z.record(z.string(), z.unknown()).nullable() })),
          }),
        },
      },
    },
    ...errorResponses(ErrorSchema, [401, 403, 503]),
  },
});

export function registerReputation(app: App) {
  app.openapi(route, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const since = q.since ? Date.parse(q.since) : 0;
    const audience = await reputationAudience(deps.store, c.get('caller').tenantId);
    // Another tenant's events are filtered out after the read: read deeper so `limit` still fills.
    const depth = audience.operator ? q.limit : Math.min(5_000, q.limit * 10);
    const [state, events] = await Promise.all([deps.hub.reputation(), deps.store.listPolicyEvents(since, depth)]);
    return c.json(
      {
        breakers: state.breakers.filter((b) => visibleTo(audience, { scope: String(b.scope), key: String(b.key) })),
        rates: state.rates.filter((r) => visibleTo(audience, { scope: 'provider_pool', key: '', data: r })),
        suspended_ips: audience.operator ? state.suspended_ips : [],
        events: events.filter((e) => visibleTo(audience, e)).slice(0, q.limit).map((e) => ({ scope: e.scope, key: e.key, type: e.type, from: e.fromState, to: e.toState, reason: e.reason, at: new Date(e.at).toISOString(), data: e.data ?? null })),
      },
      200,
    );
  });
}
