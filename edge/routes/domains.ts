import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { CreateDomainSchema, DomainDetailSchema, DomainViewSchema, ErrorSchema } from '../../shared/api.ts';
import { requireScope } from '../middleware/auth.ts';
import { domainView } from '../services/domains.ts';
import { actorOf } from '../services/audit.ts';
import { authTargets } from '../services/domain-check.ts';
import { checkSendingDomain, createSendingDomain, domainNotFound } from '../services/sending-domains.ts';
import { errorResponses } from './responses.ts';

const IdParam = z.object({ id: z.string().min(1).max(64) });

const createDomain = createRoute({
  method: 'post',
  path: '/v1/domains',
  summary: 'Add a sending domain: generates its DKIM key and ownership token, checks DNS once, returns the records to publish',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: CreateDomainSchema } }, required: true } },
  responses: {
    201: { description: 'Created', content: { 'application/json': { schema: DomainViewSchema } } },
    200: { description: 'Already registered', content: { 'application/json': { schema: DomainViewSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const listDomains = createRoute({
  method: 'get',
  path: '/v1/domains',
  summary: "The tenant's sending domains with their DNS records and each record's last checked status",
  middleware: [requireScope('read')] as const,
  responses: {
    200: { description: 'Domains', content: { 'application/json': { schema: z.object({ data: z.array(DomainViewSchema) }) } } },
    ...errorResponses(ErrorSchema, [401, 403, 503]),
  },
});

const getDomain = createRoute({
  method: 'get',
  path: '/v1/domains/{id}',
  summary: 'One sending domain: its records, their status, and its verification status changes',
  middleware: [requireScope('read')] as const,
  request: { params: IdParam },
  responses: {
    200: { description: 'Domain', content: { 'application/json': { schema: DomainDetailSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 404, 503]),
  },
});

const verifyRoute = createRoute({
  method: 'post',
  path: '/v1/domains/{id}/verify',
  summary:
    'Check the domain\'s DNS now: verified when its DKIM key and this tenant\'s ownership token are published. 409 when another tenant holds the domain verified; a failed lookup keeps the status and reports the error',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam },
  responses: {
    200: { description: 'Checked (the status says whether it verified)', content: { 'application/json': { schema: DomainViewSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 404, 409, 503]),
  },
});

export function registerDomains(app: App) {
  app.openapi(createDomain, async (c) => {
    const body = c.req.valid('json');
    const out = await createSendingDomain(c.get('deps'), c.get('caller').tenantId, { domain: body.domain, dkimAlgorithm: body.dkim_algorithm, returnPathDomain: body.return_path_domain }, undefined, actorOf(c.get('caller')));
    return c.json(domainView(out.row, out.targets), out.created ? 201 : 200);
  });

  app.openapi(listDomains, async (c) => {
    const deps = c.get('deps');
    const rows = await deps.store.listDomains(c.get('caller').tenantId);
    const targets = await authTargets(deps);
    return c.json({ data: rows.map((r) => domainView(r, targets)) }, 200);
  });

  app.openapi(getDomain, async (c) => {
    const deps = c.get('deps');
    const { id } = c.req.valid('param');
    const row = await deps.store.getDomain(c.get('caller').tenantId, id);
    if (!row) throw domainNotFound(id);
    const events = await deps.store.listPolicyEventsFor('domain_auth', row.id, 50);
    return c.json(
      {
        ...domainView(row, await authTargets(deps)),
        events: events.map((e) => ({
          from: e.fromState,
          to: e.toState,
          reason: e.reason,
          at: new Date(e.at).toISOString(),
          records: ((e.data as { records?: Record<string, string> } | null)?.records ?? null),
        })),
      },
      200,
    );
  });

  app.openapi(verifyRoute, async (c) => {
    const out = await checkSendingDomain(c.get('deps'), c.get('caller').tenantId, c.req.valid('param').id);
    return c.json(domainView(out.row, out.targets), 200);
  });
}
