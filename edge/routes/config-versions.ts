/** Applied configuration versions: every one is kept (read-only). */
import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import type { ConfigVersionRecord } from '../ports/store.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorResponses } from './responses.ts';

const VersionSchema = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    kind: z.enum(['apply', 'rollback']),
    rollback_of: z.string().nullable(),
    applied_by: z.string(),
    applied_at: z.string(),
    state_hash: z.string(),
    changes: z.number().int(),
  })
  .openapi('ConfigVersion');
const VersionDetailSchema = VersionSchema.extend({ document: z.record(z.string(), z.unknown()), change_list: z.array(z.unknown()) }).openapi('ConfigVersionDetail');

const list = createRoute({
  method: 'get',
  path: '/v1/config/versions',
  summary: 'Applied configuration versions, newest first; page with next_cursor',
  middleware: [requireScope('admin')] as const,
  request: { query: z.object({ cursor: z.string().regex(/^\d+$/).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }) },
  responses: { 200: { description: 'Versions', content: { 'application/json': { schema: z.object({ data: z.array(VersionSchema), next_cursor: z.string().nullable() }) } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 503]) },
});

const get = createRoute({
  method: 'get',
  path: '/v1/config/versions/{id}',
  summary: 'One version: the document it applied (the whole state it left) and its changes',
  middleware: [requireScope('admin')] as const,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: { description: 'The version', content: { 'application/json': { schema: VersionDetailSchema } } }, ...errorResponses(ErrorSchema, [401, 403, 404, 503]) },
});

function versionView(v: ConfigVersionRecord) {
  return { id: v.id, seq: v.seq, kind: v.kind, rollback_of: v.rollbackOf, applied_by: v.appliedBy, applied_at: new Date(v.appliedAt).toISOString(), state_hash: v.stateHash, changes: v.changes.length };
}

export function registerConfigVersions(app: App) {
  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const rows = await c.get('deps').store.listConfigVersions(c.get('caller').tenantId, q.limit + 1, q.cursor ? Number(q.cursor) : undefined);
    const page = rows.slice(0, q.limit);
    return c.json({ data: page.map(versionView), next_cursor: rows.length > q.limit ? String(page[page.length - 1].seq) : null }, 200);
  });

  app.openapi(get, async (c) => {
    const { id } = c.req.valid('param');
    const v = await c.get('deps').store.getConfigVersion(c.get('caller').tenantId, id);
    if (!v) throw new ApiError('not_found', `no configuration version ${id}`);
    return c.json({ ...versionView(v), document: v.document, change_list: v.changes }, 200);
  });
}
