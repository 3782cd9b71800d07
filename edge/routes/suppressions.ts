import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { CreateSuppressionSchema, ErrorSchema, SuppressionListQuerySchema, SuppressionListSchema, SuppressionSchema } from '../../shared/api.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { parseMailbox } from '../../shared/address.ts';
import { requireScope } from '../middleware/auth.ts';
import { suppressionView } from '../services/suppression.ts';
import { actorOf, recordAudit } from '../services/audit.ts';
import { errorResponses } from './responses.ts';

/** The address as the list keys it: syntax checked (RFC 5321/5322, IDN to A-labels), lower-cased. */
function listAddress(field: string, value: string): string {
  const parsed = parseMailbox(value);
  if (!parsed.ok) throw invalid(field, parsed.reason);
  return parsed.mailbox.address.toLowerCase();
}

const list = createRoute({
  method: 'get',
  path: '/v1/suppressions',
  summary: "The tenant's suppression list, newest first; filter by reason or part of the address, page with next_cursor",
  middleware: [requireScope('read')] as const,
  request: { query: SuppressionListQuerySchema },
  responses: {
    200: { description: 'A page of suppressions', content: { 'application/json': { schema: SuppressionListSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const add = createRoute({
  method: 'post',
  path: '/v1/suppressions',
  summary: 'Add an address to the suppression list: no message to it is queued from now on',
  description: 'An address already listed keeps its first reason (200 with that row); a new one is 201.',
  // Adding only makes sending stricter, so a sending key may; removing needs admin.
  middleware: [requireScope('send')] as const,
  request: { body: { content: { 'application/json': { schema: CreateSuppressionSchema } }, required: true } },
  responses: {
    201: { description: 'Listed', content: { 'application/json': { schema: SuppressionSchema } } },
    200: { description: 'Already listed', content: { 'application/json': { schema: SuppressionSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/suppressions/{address}',
  summary: 'Remove an address from the suppression list (sending to it resumes)',
  middleware: [requireScope('admin')] as const,
  request: { params: z.object({ address: z.string().min(3).max(320) }) },
  responses: {
    200: { description: 'Removed', content: { 'application/json': { schema: z.object({ address: z.string(), deleted: z.literal(true) }) } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]),
  },
});

export function registerSuppressions(app: App) {
  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const rows = await c.get('deps').store.listSuppressions(c.get('caller').tenantId, {
      reason: q.reason,
      contains: q.contains,
      before: q.cursor !== undefined ? Number(q.cursor) : undefined,
      // One row more than the page tells whether another page exists.
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const hasMore = rows.length > q.limit;
    return c.json({ data: page.map(suppressionView), next_cursor: hasMore ? String(page.at(-1)!.id) : null, has_more: hasMore }, 200);
  });

  app.openapi(add, async (c) => {
    const deps = c.get('deps');
    const { tenantId, keyId } = c.get('caller');
    const body = c.req.valid('json');
    const address = listAddress('address', body.address);
    const now = deps.now?.() ?? Date.now();
    const added = await deps.store.addSuppressions([
      { tenantId, address, reason: body.reason, source: body.note ?? `added through the API by key ${keyId}`, messageId: null, jobId: null, createdAt: now },
    ]);
    const [row] = await deps.store.findSuppressions(tenantId, [address]);
    deps.logger.info({ tenant: tenantId, key: keyId, address, reason: row.reason, created: added.length > 0 }, 'suppression added');
    if (added.length > 0) await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'suppression.add', target: { kind: 'suppression', id: address }, before: null, after: suppressionView(row) });
    return c.json(suppressionView(row), added.length > 0 ? 201 : 200);
  });

  app.openapi(remove, async (c) => {
    const deps = c.get('deps');
    const { tenantId, keyId } = c.get('caller');
    const address = listAddress('address', c.req.valid('param').address);
    const [before] = await deps.store.findSuppressions(tenantId, [address]);
    if (!(await deps.store.deleteSuppression(tenantId, address))) throw new ApiError('not_found', `${address} is not on the suppression list`);
    await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'suppression.remove', target: { kind: 'suppression', id: address }, before: before ? suppressionView(before) : null, after: null });
    deps.logger.info({ tenant: tenantId, key: keyId, address }, 'suppression removed');
    return c.json({ address, deleted: true as const }, 200);
  });
}
