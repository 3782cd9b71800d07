/**
 * `/v1/webhooks/{id}/dead-letters`: deliveries whose retry window ran out, and replays (one, or
 * all that died since a time). A replayed delivery keeps its sequence and is retried afresh.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { App, Caller } from '../context.ts';
import type { AppDeps } from '../ports/app.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { DeadLetterListSchema, ReplayResultSchema, ReplaySinceSchema } from '../../shared/webhooks.ts';
import { ApiError } from '../../shared/errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { deadLetterView } from '../services/webhooks.ts';
import { errorResponses } from './responses.ts';

const IdParam = z.object({ id: z.string().min(1).max(64) });
const json = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { 'application/json': { schema } } });

const list = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}/dead-letters',
  summary: "An endpoint's dead letters, newest first",
  middleware: [requireScope('read')] as const,
  request: { params: IdParam, query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }) },
  responses: { 200: json(DeadLetterListSchema, 'Dead letters'), ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});
const replayOne = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/dead-letters/{delivery_id}/replay',
  summary: 'Deliver one dead letter again',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam.extend({ delivery_id: z.string().min(1).max(64) }) },
  responses: { 200: json(ReplayResultSchema, 'Queued again'), ...errorResponses(ErrorSchema, [401, 403, 404, 503]) },
});
const replaySince = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/dead-letters/replay',
  summary: 'Deliver again every dead letter that died since a time (absent: all of them)',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam, body: { content: { 'application/json': { schema: ReplaySinceSchema } }, required: true } },
  responses: { 200: json(ReplayResultSchema, 'Queued again'), ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

/** The endpoint must be the caller's: another tenant's answers 404 like a missing one. */
async function endpointOf(deps: AppDeps, caller: Caller, id: string) {
  const row = await deps.store.getWebhookEndpoint(caller.tenantId, id);
  if (!row) throw new ApiError('not_found', `no webhook ${id}`);
  return row;
}

export function registerWebhookDeadLetters(app: App) {
  app.openapi(list, async (c) => {
    const { id } = c.req.valid('param');
    await endpointOf(c.get('deps'), c.get('caller'), id);
    const rows = await c.get('deps').store.listDeadLetters(c.get('caller').tenantId, id, c.req.valid('query').limit);
    return c.json({ data: rows.map(deadLetterView) }, 200);
  });

  app.openapi(replayOne, async (c) => {
    const deps = c.get('deps');
    const { id, delivery_id } = c.req.valid('param');
    await endpointOf(c.get('deps'), c.get('caller'), id);
    const n = await deps.store.replayDeadLetters(c.get('caller').tenantId, id, { id: delivery_id }, deps.now?.() ?? Date.now());
    if (n === 0) throw new ApiError('not_found', `no dead letter ${delivery_id} on webhook ${id}`);
    return c.json({ replayed: n }, 200);
  });

  app.openapi(replaySince, async (c) => {
    const deps = c.get('deps');
    const { id } = c.req.valid('param');
    await endpointOf(c.get('deps'), c.get('caller'), id);
    const given = c.req.valid('json').since;
    const since = given === undefined ? 0 : Date.parse(given);
    const n = await deps.store.replayDeadLetters(c.get('caller').tenantId, id, { since }, deps.now?.() ?? Date.now());
    return c.json({ replayed: n }, 200);
  });
}
