/**
 * Structured export (SPEC §7): NDJSON of message events and of delivery rollups for a time
 * range, one JSON object per line, streamed page by page (keyset paging by event id / rollup
 * rowid, so a long export holds no transaction and no offset). Tenant-scoped: the operator gets
 * every tenant's rows (or one, `tenant=`), another tenant its own.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ExportQuerySchema } from '../../shared/stats-api.ts';
import { requireScope } from '../middleware/auth.ts';
import { rangeOf, statsTenant } from '../services/stats.ts';
import { errorResponses } from './responses.ts';
import type { ExportedEvent, ExportedRollup } from '../ports/stats.ts';

const PAGE = 1_000;
const NDJSON = 'application/x-ndjson';

const exportEvents = createRoute({
  method: 'get',
  path: '/v1/export/events',
  summary: 'Message events of a time range as NDJSON, in commit order',
  description: 'One object per line: `id`, `message_id`, `job_id`, `tenant`, `type`, `at` (ISO), `data`.',
  middleware: [requireScope('read')] as const,
  request: { query: ExportQuerySchema },
  responses: {
    200: { description: 'NDJSON stream', content: { [NDJSON]: { schema: z.string() } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const exportRollups = createRoute({
  method: 'get',
  path: '/v1/export/rollups',
  summary: 'Delivery rollups (outcome counts per minute and dimension) of a time range as NDJSON',
  description: 'One object per line: `minute` (ISO), `tenant`, `lane`, `pool`, `provider`, `domain` (recipient), `sender_domain`, `outcome`, `class`, `enhanced`, `code`, `count`.',
  middleware: [requireScope('read')] as const,
  request: { query: ExportQuerySchema },
  responses: {
    200: { description: 'NDJSON stream', content: { [NDJSON]: { schema: z.string() } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

function eventLine(e: ExportedEvent): string {
  return JSON.stringify({ id: e.id, message_id: e.messageId, job_id: e.jobId, tenant: e.tenantId, type: e.type, at: new Date(e.at).toISOString(), data: e.data === null ? null : JSON.parse(e.data) });
}

function rollupLine(r: ExportedRollup): string {
  return JSON.stringify({
    minute: new Date(r.minute).toISOString(),
    tenant: r.tenantId,
    lane: r.lane,
    pool: r.pool,
    provider: r.provider,
    domain: r.domain,
    sender_domain: r.senderDomain,
    outcome: r.outcome,
    class: r.replyClass || null,
    enhanced: r.enhanced || null,
    code: r.code || null,
    count: r.count,
  });
}

export function registerExport(app: App) {
  app.openapi(exportEvents, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const tenantId = statsTenant(c.get('caller').tenantId, q.tenant) ?? null;
    const from = Date.parse(q.from);
    const to = Date.parse(q.to);
    rangeOf(q.from, q.to, Date.now()); // 400 unless from is before to
    c.header('content-type', NDJSON);
    // An NDJSON stream is no typed JSON response: the OpenAPI types cannot describe its body.
    return stream(c, async (s) => {
      let after = 0;
      for (;;) {
        const page = await deps.store.exportEvents(tenantId, from, to, after, PAGE);
        if (page.length === 0) break;
        await s.write(`${page.map(eventLine).join('\n')}\n`);
        after = page.at(-1)!.id;
        if (page.length < PAGE) break;
      }
    }) as never;
  });

  app.openapi(exportRollups, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const tenantId = statsTenant(c.get('caller').tenantId, q.tenant) ?? null;
    const range = rangeOf(q.from, q.to, Date.now());
    c.header('content-type', NDJSON);
    // An NDJSON stream is no typed JSON response: the OpenAPI types cannot describe its body.
    return stream(c, async (s) => {
      let after = 0;
      for (;;) {
        const page = await deps.store.exportRollups(tenantId, range.from, range.to, after, PAGE);
        if (page.length === 0) break;
        await s.write(`${page.map(rollupLine).join('\n')}\n`);
        after = page.at(-1)!.rowid;
        if (page.length < PAGE) break;
      }
    }) as never;
  });
}
