/** The audit log, read-only: there is no route that changes or deletes it. */
import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { AuditEntrySchema, AuditQuerySchema } from '../../shared/operator-api.ts';
import { ApiError } from '../../shared/errors.ts';
import type { AuditEntryRecord } from '../ports/store.ts';
import { requireScope } from '../middleware/auth.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { errorResponses } from './responses.ts';
import { stream } from 'hono/streaming';
import { ExportQuerySchema } from '../../shared/stats-api.ts';
import { rangeOf, statsTenant } from '../services/stats.ts';

const list = createRoute({
  method: 'get',
  path: '/v1/audit',
  summary: 'Configuration changes, newest first: who (key id and name), when, what, before and after (secrets masked); filter by actor, target kind and id, time; page with next_cursor',
  middleware: [requireScope('admin')] as const,
  request: { query: AuditQuerySchema },
  responses: {
    200: { description: 'A page of audit entries', content: { 'application/json': { schema: z.object({ data: z.array(AuditEntrySchema), next_cursor: z.string().nullable() }) } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const exportAudit = createRoute({
  method: 'get',
  path: '/v1/export/audit',
  summary: 'The audit log of a time range as NDJSON, oldest first (one entry per line, as GET /v1/audit shows them)',
  middleware: [requireScope('admin')] as const,
  request: { query: ExportQuerySchema },
  responses: { 200: { description: 'NDJSON stream', content: { 'application/x-ndjson': { schema: z.string() } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 503]) },
});
const EXPORT_PAGE = 1_000;

export function auditView(e: AuditEntryRecord) {
  return {
    id: e.id,
    at: new Date(e.at).toISOString(),
    actor: { key_id: e.actorKeyId, key_name: e.actorKeyName, tenant_id: e.actorTenantId },
    tenant_id: e.tenantId,
    action: e.action,
    target: { kind: e.targetKind, id: e.targetId },
    before: e.before ?? null,
    after: e.after ?? null,
    reason: e.reason,
  };
}

export function registerAudit(app: App) {
  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const { tenantId } = c.get('caller');
    if (q.tenant_id !== undefined && q.tenant_id !== tenantId && tenantId !== OPERATOR_TENANT) {
      throw new ApiError('forbidden', "only the operator tenant reads another tenant's audit log", { scope: 'admin' });
    }
    // A tenant reads its own entries; the operator its own (the platform's: pools, IPs, node tokens) unless it names a tenant or `*`.
    const scope = q.tenant_id === '*' ? undefined : (q.tenant_id ?? tenantId);
    const rows = await c.get('deps').store.listAudit({
      tenantId: scope,
      actorKeyId: q.actor,
      targetKind: q.kind,
      targetId: q.target,
      since: q.since ? Date.parse(q.since) : undefined,
      until: q.until ? Date.parse(q.until) : undefined,
      before: q.cursor ? Number(q.cursor) : undefined,
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    return c.json({ data: page.map(auditView), next_cursor: rows.length > q.limit ? String(page[page.length - 1].id) : null }, 200);
  });

  app.openapi(exportAudit, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const tenantId = statsTenant(c.get('caller').tenantId, q.tenant);
    const { from, to } = rangeOf(q.from, q.to, deps.now?.() ?? Date.now());
    c.header('content-type', 'application/x-ndjson');
    // Paged by id (keyset), so a long export holds no transaction.
    return stream(c, async (out) => {
      let after = 0;
      for (;;) {
        const rows = await deps.store.listAudit({ tenantId, since: from, until: to - 1, after, limit: EXPORT_PAGE });
        if (rows.length === 0) break;
        await out.write(rows.map((r) => `${JSON.stringify(auditView(r))}\n`).join(''));
        after = rows[rows.length - 1].id;
        if (rows.length < EXPORT_PAGE) break;
      }
    }) as never;
  });
}
