/**
 * Alerts (SPEC §7): the rules with their defaults (GET, and PUT by the operator) and the alert
 * log, open and resolved, with the numbers that raised and resolved each. The operator sees
 * every alert; another tenant sees the alerts about its own things (its sending domains'
 * breakers, its webhook endpoints). The evaluator is edge/services/alerts.ts.
 */
import { createRoute } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import { AlertListQuerySchema, AlertListSchema, AlertRulesSchema, PutAlertRulesSchema } from '../../shared/stats-api.ts';
import { requireScope } from '../middleware/auth.ts';
import { alertView } from '../services/alerts.ts';
import { effectiveRules } from '../alerts/rules.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { errorResponses } from './responses.ts';

const listAlerts = createRoute({
  method: 'get',
  path: '/v1/alerts',
  summary: 'The alert log: open and resolved alerts with the numbers that raised and resolved them, newest first',
  middleware: [requireScope('read')] as const,
  request: { query: AlertListQuerySchema },
  responses: {
    200: { description: 'Alerts, newest first', content: { 'application/json': { schema: AlertListSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const getRules = createRoute({
  method: 'get',
  path: '/v1/alerts/rules',
  summary: 'The alert rules in force: defaults with the operator’s changes',
  middleware: [requireScope('read')] as const,
  responses: {
    200: { description: 'Every rule', content: { 'application/json': { schema: AlertRulesSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 503]),
  },
});

const putRules = createRoute({
  method: 'put',
  path: '/v1/alerts/rules',
  summary: 'Change alert rules (operator only): the given fields replace the defaults, per rule',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: PutAlertRulesSchema } }, required: true } },
  responses: {
    200: { description: 'Every rule, as now in force', content: { 'application/json': { schema: AlertRulesSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

function rulesBody(rules: ReturnType<typeof effectiveRules>) {
  return {
    data: rules.map((r) => {
      const { enabled, ...settings } = r.settings;
      return { id: r.id, description: r.description, enabled, settings: settings as Record<string, number>, customized_at: r.customizedAt === null ? null : new Date(r.customizedAt).toISOString() };
    }),
  };
}

export function registerAlerts(app: App) {
  app.openapi(listAlerts, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const tenantId = c.get('caller').tenantId;
    const rows = await deps.store.listAlerts({
      state: q.state,
      tenantId: tenantId === OPERATOR_TENANT ? undefined : tenantId,
      before: q.before ? Number(q.before.slice('alert_'.length)) : undefined,
      limit: q.limit,
    });
    return c.json({ data: rows.map(alertView), next_before: rows.length === q.limit ? `alert_${rows.at(-1)!.id}` : null }, 200);
  });

  app.openapi(getRules, async (c) => c.json(rulesBody(effectiveRules(await c.get('deps').store.alertRuleSettings())), 200));

  app.openapi(putRules, async (c) => {
    const deps = c.get('deps');
    if (c.get('caller').tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', 'only the operator tenant changes alert rules');
    const body = c.req.valid('json');
    const now = deps.now?.() ?? Date.now();
    const stored = new Map((await deps.store.alertRuleSettings()).map((s) => [s.id, s.settings]));
    for (const [id, settings] of Object.entries(body.rules)) {
      if (settings) await deps.store.putAlertRuleSettings(id, { ...(stored.get(id) ?? {}), ...settings }, now);
    }
    return c.json(rulesBody(effectiveRules(await deps.store.alertRuleSettings())), 200);
  });
}
