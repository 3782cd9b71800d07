/** Dashboard: the tenant's webhook endpoints, their dead letters (replay: admin, as the API) and the alert log. */
import { z } from '@hono/zod-openapi';
import { ApiError } from '../../shared/errors.ts';
import { hasScope } from '../ui/session.ts';
import { webhookView } from '../services/webhooks.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { webhooksPage } from '../ui/pages/webhooks.tsx';
import { changeForm, pageContext, parseInput, type UiApp, type UiRuntime } from '../ui/kit.ts';

/** Dead letters shown per endpoint; the count reads "N+" past it. */
const DEAD_LETTERS_SHOWN = 50;
const ReplaySchema = z.object({ endpoint: z.string().min(1).max(64) });
const ALERTS_SHOWN = 50;
const QuerySchema = z.object({
  replayed: z.coerce.number().int().min(0).optional(),
  /** Alert log paging: alerts older than this one. */
  alerts_before: z
    .string()
    .regex(/^alert_\d{1,18}$/, 'the next page link of a previous page')
    .optional(),
});

export function registerUiWebhooks(ui: UiApp, rt: UiRuntime) {
  ui.get('/webhooks', async (c) => {
    const deps = c.get('deps');
    const { tenantId } = c.get('caller');
    const q = parseInput(QuerySchema, c.req.query());
    const now = deps.now?.() ?? Date.now();
    const [rows, alerts] = await Promise.all([
      deps.store.listWebhookEndpoints(tenantId),
      // As GET /v1/alerts: the operator reads every alert, a tenant the alerts about its own things.
      deps.store.listAlerts({
        tenantId: tenantId === OPERATOR_TENANT ? undefined : tenantId,
        before: q.alerts_before ? Number(q.alerts_before.slice('alert_'.length)) : undefined,
        limit: ALERTS_SHOWN + 1,
      }),
    ]);
    const endpoints = await Promise.all(
      rows.map(async (endpoint) => ({
        endpoint,
        status: webhookView(endpoint, now).status,
        deadLetters: await deps.store.listDeadLetters(tenantId, endpoint.id, DEAD_LETTERS_SHOWN),
      })),
    );
    const notice = q.replayed === undefined ? undefined : `${q.replayed} dead letter(s) queued for delivery again.`;
    const alertPage = alerts.slice(0, ALERTS_SHOWN);
    const alertsNext = alerts.length > ALERTS_SHOWN ? `alert_${alertPage.at(-1)!.id}` : null;
    return c.html(
      webhooksPage(await pageContext(c, rt), {
        endpoints,
        deadLetterLimit: DEAD_LETTERS_SHOWN,
        notice,
        alerts: alertPage,
        alertsBefore: q.alerts_before,
        alertsNext,
      }),
    );
  });

  ui.post('/webhooks/replay', async (c) => {
    const form = await changeForm(c);
    const caller = c.get('caller');
    if (!hasScope(caller, 'admin')) throw new ApiError('forbidden', 'this key lacks the "admin" scope: it cannot replay dead letters', { scope: 'admin' });
    const { endpoint } = parseInput(ReplaySchema, form);
    const deps = c.get('deps');
    // Another tenant's endpoint answers as a missing one.
    if (!(await deps.store.getWebhookEndpoint(caller.tenantId, endpoint))) throw new ApiError('not_found', `no webhook ${endpoint}`);
    const n = await deps.store.replayDeadLetters(caller.tenantId, endpoint, { since: 0 }, deps.now?.() ?? Date.now());
    deps.logger.info({ tenant: caller.tenantId, key: caller.keyId, endpoint, replayed: n }, 'webhook dead letters replayed (dashboard)');
    return c.redirect(`/ui/webhooks?replayed=${n}`, 303);
  });
}
