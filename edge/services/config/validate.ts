/**
 * What a document must satisfy beyond its shape: operator-only sections, references that
 * resolve (pools, domains, tenants, node tokens, lanes), the policy loader's rules and the
 * operator's floor, and public webhook URLs. Each failure is a 400 naming the document path.
 */
import type { AppDeps } from '../../ports/app.ts';
import type { ConfigDocument } from '../../../shared/config-schema.ts';
import { invalid } from '../../../shared/errors.ts';
import { LANES } from '../../../shared/lanes.ts';
import { isIpLiteral } from '../../../shared/mx.ts';
import { loadPolicyDocument } from '../../../shared/policy/defaults.ts';
import { floorViolationsFor } from '../policy.ts';
import { tenantExists } from '../pools.ts';
import { OPERATOR_TENANT } from '../tenancy.ts';
import { checkWebhookUrl } from '../webhooks.ts';
import type { ConfigState } from './diff.ts';
import type { LiveConfig } from './state.ts';

export async function validateDesired(deps: AppDeps, tenantId: string, doc: ConfigDocument, live: LiveConfig, desired: ConfigState): Promise<void> {
  const operator = tenantId === OPERATOR_TENANT;
  for (const section of ['pools', 'ips'] as const) if (doc[section] && !operator) throw invalid(section, 'only the operator tenant configures pools and IPs');

  // Pools a tenant may route to: the operator's document names them; a tenant's are the live shared ones and its own.
  const pools = operator ? desired.pools! : Object.fromEntries((await deps.store.listPools()).filter((p) => p.tenantId === null || p.tenantId === tenantId).map((p) => [p.name, p]));
  if (operator) {
    if (live.state.pools?.default && !desired.pools?.default) throw invalid('pools.default', 'the default pool cannot be deleted: sends without a pool use it');
    for (const [name, p] of Object.entries(desired.pools ?? {})) {
      if (p.tenant && p.tenant !== live.state.pools?.[name]?.tenant && !(await tenantExists(deps.store, p.tenant))) throw invalid(`pools.${name}.tenant`, `no tenant ${p.tenant}`);
    }
    const tokens = new Set((await deps.store.listNodeTokens()).map((t) => t.id));
    for (const [address, ip] of Object.entries(desired.ips ?? {})) {
      if (!isIpLiteral(address)) throw invalid(`ips.${address}`, 'not an IPv4 or IPv6 literal');
      if (live.retiredIps.has(address)) throw invalid(`ips.${address}`, 'this IP is retired and cannot be configured again');
      if (!pools[ip.pool]) throw invalid(`ips.${address}.pool`, `no pool ${ip.pool}${doc.pools ? ' in the document' : ''}`);
      if (ip.node_token && !tokens.has(ip.node_token)) throw invalid(`ips.${address}.node_token`, `no node token ${ip.node_token}`);
    }
  }

  for (const [domain, d] of Object.entries(desired.domains)) {
    const was = live.state.domains[domain];
    if (was && was.dkim_algorithm !== d.dkim_algorithm) throw invalid(`domains.${domain}.dkim_algorithm`, `is ${was.dkim_algorithm}; a domain's key algorithm does not change in place (remove the domain and add it again for a new key)`);
    if (d.return_path_domain !== domain && !d.return_path_domain.endsWith(`.${domain}`)) throw invalid(`domains.${domain}.return_path_domain`, `must be ${domain} or a subdomain of it, so SPF aligns for DMARC (RFC 7489 §3.1.2)`);
  }

  for (const [lane, layer] of Object.entries(desired.lanes)) {
    if (!(LANES as readonly string[]).includes(lane)) throw invalid(`lanes.${lane}`, `unknown lane; use one of ${LANES.join(', ')}`);
    const routed = (layer as { pools?: unknown }).pools;
    if (Array.isArray(routed)) routed.forEach((p, i) => { if (typeof p === 'string' && !pools[p]) throw invalid(`lanes.${lane}.pools.${i}`, `no pool ${p} this tenant may use`); });
  }
  for (const domain of Object.keys(desired.policy.domains ?? {})) if (!desired.domains[domain]) throw invalid(`policy.domains.${domain}`, `no sending domain ${domain}${doc.domains ? ' in the document' : ''}`);
  checkPolicy(tenantId, desired);
  const [loosens] = await floorViolationsFor(deps, tenantId, policyDocumentOf(desired));
  if (loosens) throw invalid(pathOf(loosens.field), `loosens the operator's floor: ${loosens.reason}`);

  for (const [url, w] of Object.entries(desired.webhooks)) {
    for (const [i, d] of (w.domains ?? []).entries()) if (!desired.domains[d]) throw invalid(`webhooks.${url}.domains.${i}`, `no sending domain ${d}`);
    for (const [i, l] of (w.lanes ?? []).entries()) if (!(LANES as readonly string[]).includes(l)) throw invalid(`webhooks.${url}.lanes.${i}`, `unknown lane ${l}`);
    if (!live.state.webhooks[url]) {
      try {
        await checkWebhookUrl(deps, url);
      } catch (error) {
        throw invalid(`webhooks.${url}`, (error as { details?: { reason?: string } }).details?.reason ?? (error as Error).message);
      }
    }
  }
}

/** The tenant's policy layer (PUT /v1/policies' document) the state describes. */
export function policyDocumentOf(state: ConfigState): Record<string, unknown> {
  const { defaults, domains } = state.policy;
  return { ...(defaults !== undefined ? { defaults } : {}), ...(Object.keys(state.lanes).length ? { lanes: state.lanes } : {}), ...(domains !== undefined ? { domains } : {}) };
}

function checkPolicy(tenantId: string, state: ConfigState) {
  try {
    loadPolicyDocument({ tenants: { [tenantId]: policyDocumentOf(state) } });
  } catch (error) {
    const issues = (error as { issues?: string[] }).issues ?? [(error as Error).message];
    const [where, ...rest] = issues[0].split(': ');
    const field = where.replace(new RegExp(`^tenants\\.${tenantId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.?`), '');
    throw invalid(pathOf(field || 'policy'), rest.join(': ') || issues[0]);
  }
}

/** A policy document path as the config document names it: lanes stay, defaults and domains live under `policy`. */
function pathOf(field: string): string {
  return field.startsWith('lanes') ? field : `policy.${field}`;
}
