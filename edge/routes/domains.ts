import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { CreateDomainSchema, DomainDetailSchema, DomainViewSchema, ErrorSchema } from '../../shared/api.ts';
import { asciiDomain } from '../../shared/address.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { requireScope } from '../middleware/auth.ts';
import { domainView, generateDkimKey, selectorFor } from '../services/domains.ts';
import { authTargets, newVerifyToken, TAKEN_ERROR, verifyDomain } from '../services/domain-check.ts';
import type { SendingDomainRecord } from '../domain/records.ts';
import type { AppDeps } from '../ports/app.ts';
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

function notFound(id: string) {
  return new ApiError('not_found', `no sending domain ${id}`, { field: 'id', reason: 'unknown id' });
}

function checker(deps: AppDeps, targets: Awaited<ReturnType<typeof authTargets>>) {
  if (!deps.dnsRecords) return null;
  return { store: deps.store, dns: deps.dnsRecords, targets, logger: deps.logger, now: deps.now?.() ?? Date.now() };
}

export function registerDomains(app: App) {
  app.openapi(createDomain, async (c) => {
    const deps = c.get('deps');
    const { tenantId } = c.get('caller');
    const body = c.req.valid('json');
    const domain = asciiDomain(body.domain);
    if (!domain) throw invalid('domain', 'not a valid host name');
    // The return path defaults to bounces.<domain>: its MX points at the platform's intake, and
    // SPF there aligns with the From domain under relaxed DMARC (RFC 7489 §3.1.2).
    const returnPath = body.return_path_domain ? asciiDomain(body.return_path_domain) : `bounces.${domain}`;
    if (!returnPath || (returnPath !== domain && !returnPath.endsWith(`.${domain}`))) {
      throw invalid('return_path_domain', `must be ${domain} or a subdomain of it, so SPF aligns for DMARC (RFC 7489 §3.1.2)`);
    }
    const targets = await authTargets(deps);
    const existing = await deps.store.findDomain(tenantId, domain);
    if (existing) return c.json(domainView(existing, targets), 200);
    const now = deps.now?.() ?? Date.now();
    const key = await generateDkimKey(body.dkim_algorithm);
    const row: SendingDomainRecord = {
      id: newId('dom', now),
      tenantId,
      domain,
      dkimSelector: selectorFor(new Date(now)),
      dkimAlgorithm: body.dkim_algorithm,
      dkimPrivateKeyEnc: await deps.secrets.seal(key.privateKeyPem),
      dkimPublicKey: key.publicKey,
      returnPathDomain: returnPath,
      status: 'pending',
      createdAt: now,
      verifyToken: newVerifyToken(),
      checks: null,
      checkedAt: null,
      verifiedAt: null,
    };
    const created = await deps.store.createDomain(row);
    let stored = created === 'created' ? row : (await deps.store.findDomain(tenantId, domain))!;
    deps.logger.info({ tenant: tenantId, domain, selector: stored.dkimSelector }, 'sending domain added');
    // A first look at DNS, so the SPF advice merges into what the domain already publishes.
    const check = created === 'created' ? checker(deps, targets) : null;
    if (check) {
      try {
        stored = (await verifyDomain(check, stored, 'create')).row;
      } catch (err) {
        deps.logger.warn({ err, domain }, 'first DNS check of a new domain failed');
      }
    }
    return c.json(domainView(stored, targets), created === 'created' ? 201 : 200);
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
    if (!row) throw notFound(id);
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
    const deps = c.get('deps');
    const { id } = c.req.valid('param');
    const row = await deps.store.getDomain(c.get('caller').tenantId, id);
    if (!row) throw notFound(id);
    const targets = await authTargets(deps);
    const check = checker(deps, targets);
    if (!check) throw new ApiError('conflict', 'DNS lookups are turned off on this deployment (POSTLANE_DOH_URL=off), so domains cannot be verified here', { field: 'id', reason: 'no DNS resolver' });
    const outcome = await verifyDomain(check, row, 'api');
    if (outcome.kind === 'taken') {
      throw new ApiError('conflict', `${row.domain}: ${TAKEN_ERROR}`, { field: 'domain', reason: 'verified by another tenant', owner: 'another tenant' });
    }
    return c.json(domainView(outcome.row, targets), 200);
  });
}
