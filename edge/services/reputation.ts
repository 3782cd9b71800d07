/**
 * Who sees what of the reputation state (GET /v1/reputation). The operator tenant sees the
 * whole platform. Any other tenant sees what its own mail runs through: the breakers of pools
 * it owns or shares, the warm-ups of the pools it owns (as GET /v1/warmups), the adaptive rates
 * of those pools, its sending domains'
 * breakers and its own outreach pauses — never another tenant's domains or pauses, and not
 * the per-IP suspensions, which are the operator's infrastructure.
 */
import type { DomainStore, LeaseStore } from '../ports/store.ts';
import { OPERATOR_TENANT } from './tenancy.ts';
import { splitDomainKey } from '../hub/shaping/policy-event.ts';

export interface ReputationAudience {
  operator: boolean;
  tenantId: string;
  domains: ReadonlySet<string>;
  pools: ReadonlySet<string>;
  /** Its dedicated pools: warm-ups are the operator's business except on these. */
  ownedPools: ReadonlySet<string>;
}

export async function reputationAudience(store: Pick<LeaseStore, 'knownPools'> & Pick<DomainStore, 'listDomains'>, tenantId: string): Promise<ReputationAudience> {
  if (tenantId === OPERATOR_TENANT) return { operator: true, tenantId, domains: new Set(), pools: new Set(), ownedPools: new Set() };
  const [domains, pools] = await Promise.all([store.listDomains(tenantId), store.knownPools()]);
  return {
    operator: false,
    tenantId,
    domains: new Set(domains.map((d) => d.domain)),
    pools: new Set(pools.filter((p) => p.tenantId === null || p.tenantId === tenantId).map((p) => p.name)),
    ownedPools: new Set(pools.filter((p) => p.tenantId === tenantId).map((p) => p.name)),
  };
}

/** A breaker or policy event, by its scope and key (and the pool its data names, if any). */
export function visibleTo(a: ReputationAudience, item: { scope: string; key: string; data?: unknown }): boolean {
  if (a.operator) return true;
  const pool = (item.data as { pool?: unknown } | null | undefined)?.pool;
  switch (item.scope) {
    case 'domain': {
      // `<tenant>|<domain>`: its own record of the name, not another tenant's of the same name.
      const owner = splitDomainKey(item.key);
      return owner !== null && owner.tenantId === a.tenantId && a.domains.has(owner.domain);
    }
    case 'pool':
      return a.pools.has(item.key);
    case 'outreach':
      return item.key === a.tenantId || item.key.startsWith(`${a.tenantId}|`);
    case 'provider_pool':
      return typeof pool === 'string' && a.pools.has(pool);
    case 'warmup':
      return typeof pool === 'string' && a.ownedPools.has(pool);
    default:
      return false;
  }
}
