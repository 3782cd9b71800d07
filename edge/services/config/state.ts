/**
 * The live state as a configuration document sees it, read from the store: the tenant's
 * domains, webhooks and policy layer (lanes, defaults, per-domain), and for the operator the
 * pools and the source IPs that are not retired. Also the row ids an apply needs to find them.
 */
import type { AppDeps } from '../../ports/app.ts';
import { sha256Hex } from '../../../shared/ids.ts';
import { OPERATOR_TENANT } from '../tenancy.ts';
import { canonicalJson, type ConfigState, type DomainState, type Layer } from './diff.ts';

export interface LiveConfig {
  state: ConfigState;
  /**
   * domain name → sending_domains id; webhook URL → endpoint id. Endpoints made through the API
   * may share a URL: the document manages the first of them, the others are left as they are.
   */
  domainIds: Map<string, string>;
  webhookIds: Map<string, string>;
  /** IPs retired by the operator: a document may not bring them back. */
  retiredIps: Set<string>;
  hash: string;
}

type Deps = Pick<AppDeps, 'store'>;

export async function readLiveConfig(deps: Deps, tenantId: string): Promise<LiveConfig> {
  const { store } = deps;
  const operator = tenantId === OPERATOR_TENANT;
  const [domains, webhooks, policy, pools, ips] = await Promise.all([
    store.listDomains(tenantId),
    store.listWebhookEndpoints(tenantId),
    store.getTenantPolicy(tenantId),
    operator ? store.listPools() : Promise.resolve(null),
    operator ? store.listSourceIps() : Promise.resolve(null),
  ]);
  const doc = (policy?.document ?? {}) as { defaults?: Layer; lanes?: Record<string, Layer>; domains?: Record<string, Layer> };
  const webhookIds = new Map<string, string>();
  const state: ConfigState = {
    domains: Object.fromEntries(domains.map((d) => [d.domain, { dkim_algorithm: d.dkimAlgorithm as DomainState['dkim_algorithm'], return_path_domain: d.returnPathDomain }])),
    lanes: doc.lanes ?? {},
    policy: { ...(doc.defaults !== undefined ? { defaults: doc.defaults } : {}), ...(doc.domains !== undefined ? { domains: doc.domains } : {}) },
    webhooks: {},
  };
  for (const w of webhooks) {
    if (webhookIds.has(w.url)) continue;
    webhookIds.set(w.url, w.id);
    state.webhooks[w.url] = { event_types: w.eventTypes, lanes: w.lanes, domains: w.domains, enabled: w.enabled, description: w.description };
  }
  if (pools) state.pools = Object.fromEntries(pools.map((p) => [p.name, { tenant: p.tenantId, description: p.description }]));
  const retiredIps = new Set<string>();
  if (ips) {
    state.ips = {};
    for (const ip of ips) {
      if (ip.status === 'retired') retiredIps.add(ip.address);
      else state.ips[ip.address] = { pool: ip.pool, node_token: ip.nodeTokenId, status: ip.status };
    }
  }
  return { state, domainIds: new Map(domains.map((d) => [d.domain, d.id])), webhookIds, retiredIps, hash: await stateHash(state) };
}

export function stateHash(state: ConfigState): Promise<string> {
  return sha256Hex(canonicalJson(state));
}
