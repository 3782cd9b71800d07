/**
 * Delivery statistics (SPEC §7): GET /v1/stats (outcome counts and rates, latency percentiles,
 * deferral and bounce code distributions by provider, optionally bucketed) and GET
 * /v1/stats/health (reputation health per pool and sending domain against the trailing
 * baseline). Both read the rollups only. The operator sees every tenant (or one, `tenant=`);
 * any other tenant sees its own mail only.
 */
import { createRoute } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { HealthQuerySchema, HealthSchema, StatsQuerySchema, StatsSchema } from '../../shared/stats-api.ts';
import { requireScope } from '../middleware/auth.ts';
import { DEFAULT_BASELINE_DAYS, deliveryStats, rangeOf, reputationHealth, statsTenant } from '../services/stats.ts';
import { errorResponses } from './responses.ts';

const getStats = createRoute({
  method: 'get',
  path: '/v1/stats',
  summary: 'Delivery statistics: outcome rates, latency percentiles, deferral and bounce codes by provider',
  description:
    'Time to first attempt, to accept and to final disposition as p50/p90/p95/p99 with counts, read from log-scale histograms (each bucket spans a factor of 2^(1/4)); delivered, deferred, bounced and complained counts and rates; the enhanced code, reply class and its hint of every deferral and bounce by provider. Filter by recipient domain, provider, pool, lane, sending domain, time range and (operator) tenant; `bucket` adds a series.',
  middleware: [requireScope('read')] as const,
  request: { query: StatsQuerySchema },
  responses: {
    200: { description: 'Statistics of the range', content: { 'application/json': { schema: StatsSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const getHealth = createRoute({
  method: 'get',
  path: '/v1/stats/health',
  summary: 'Reputation health per pool and sending domain against the trailing baseline',
  description:
    'Complaint rate, hard-bounce rate, deferral rate and the p50 time to accept over the current window, each with its baseline (the POSTLANE_BASELINE_DAYS before the window), deviation, ratio and state (good, watch, bad).',
  middleware: [requireScope('read')] as const,
  request: { query: HealthQuerySchema },
  responses: {
    200: { description: 'Health per pool and sending domain', content: { 'application/json': { schema: HealthSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

export function registerStats(app: App) {
  app.openapi(getStats, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const tenantId = statsTenant(c.get('caller').tenantId, q.tenant);
    const range = rangeOf(q.from, q.to, deps.now?.() ?? Date.now());
    const stats = await deliveryStats(deps.store, {
      ...range,
      bucket: q.bucket,
      tenantId,
      lane: q.lane,
      pool: q.pool,
      provider: q.provider,
      domain: q.domain?.toLowerCase(),
      senderDomain: q.sender_domain?.toLowerCase(),
    });
    return c.json(stats, 200);
  });

  app.openapi(getHealth, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const health = await reputationHealth(deps.store, {
      now: deps.now?.() ?? Date.now(),
      windowMs: q.window_minutes * 60_000,
      baselineDays: deps.config.baselineDays ?? DEFAULT_BASELINE_DAYS,
      tenantId: statsTenant(c.get('caller').tenantId, q.tenant),
      pool: q.pool,
      senderDomain: q.sender_domain?.toLowerCase(),
    });
    return c.json(health, 200);
  });
}
