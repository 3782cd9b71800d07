import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { CreateDomainSchema, DomainViewSchema, ErrorSchema } from '../../shared/api.ts';
import { asciiDomain } from '../../shared/address.ts';
import { invalid } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { requireScope } from '../middleware/auth.ts';
import { domainView, generateDkimKey, selectorFor } from '../services/domains.ts';
import { errorResponses } from './responses.ts';

const createDomain = createRoute({
  method: 'post',
  path: '/v1/domains',
  summary: 'Add a sending domain: generates its DKIM key and returns the DNS records to publish',
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
  summary: "The tenant's sending domains with their DNS records",
  middleware: [requireScope('read')] as const,
  responses: {
    200: { description: 'Domains', content: { 'application/json': { schema: z.object({ data: z.array(DomainViewSchema) }) } } },
    ...errorResponses(ErrorSchema, [401, 403, 503]),
  },
});

async function sourceIps(app: { hub: { nodes(): Promise<Array<{ ips: Array<{ address: string }> }>> } }) {
  return (await app.hub.nodes()).flatMap((n) => n.ips.map((i) => i.address));
}

export function registerDomains(app: App) {
  app.openapi(createDomain, async (c) => {
    const deps = c.get('deps');
    const { tenantId } = c.get('caller');
    const body = c.req.valid('json');
    const domain = asciiDomain(body.domain);
    if (!domain) throw invalid('domain', 'not a valid host name');
    const returnPath = body.return_path_domain ? asciiDomain(body.return_path_domain) : domain;
    if (!returnPath || (returnPath !== domain && !returnPath.endsWith(`.${domain}`))) {
      throw invalid('return_path_domain', `must be ${domain} or a subdomain of it, so SPF aligns for DMARC (RFC 7489 §3.1.2)`);
    }
    const existing = await deps.store.findDomain(tenantId, domain);
    if (existing) return c.json(domainView(existing, await sourceIps(deps)), 200);
    const now = deps.now?.() ?? Date.now();
    const key = await generateDkimKey(body.dkim_algorithm);
    const row = {
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
    };
    const created = await deps.store.createDomain(row);
    const stored = created === 'created' ? row : (await deps.store.findDomain(tenantId, domain))!;
    deps.logger.info({ tenant: tenantId, domain, selector: stored.dkimSelector }, 'sending domain added');
    return c.json(domainView(stored, await sourceIps(deps)), created === 'created' ? 201 : 200);
  });

  app.openapi(listDomains, async (c) => {
    const deps = c.get('deps');
    const rows = await deps.store.listDomains(c.get('caller').tenantId);
    const ips = await sourceIps(deps);
    return c.json({ data: rows.map((r) => domainView(r, ips)) }, 200);
  });
}
