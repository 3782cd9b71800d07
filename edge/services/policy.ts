/**
 * The policy that applies to a send: the platform's policy document (shared/policy/defaults.ts)
 * with the tenant's own layer from the store, resolved per lane and sending domain. Cached
 * briefly per app instance; a PUT is seen within the TTL.
 *
 * Operator policy is a floor (shared/policy/floor.ts): the operator tenant's own document
 * (its defaults and lanes) over the built-in ones is what every other tenant is held to, refused
 * at PUT (`tenantFloorViolations`) and clamped at resolution (`resolvePolicy`, `doc.floor`).
 */
import type { PolicyStore } from '../ports/store.ts';
import { loadPolicyDocument, resolvePolicy, tenantFloorViolations, type PolicyDocument, type ResolvedPolicy } from '../../shared/policy/defaults.ts';
import type { Lane } from '../../shared/policy/scheduler.ts';
import { OPERATOR_TENANT } from './tenancy.ts';

const CACHE_MS = 5_000;
/** What policy resolution needs: the store (the app's deps, or a lease hub's). Caches are per holder. */
type PolicyHolder = { store: Pick<PolicyStore, 'getTenantPolicy'> };
const documents = new WeakMap<PolicyHolder, Map<string, { at: number; doc: PolicyDocument }>>();

export async function tenantDocument(deps: PolicyHolder, tenantId: string, now: number): Promise<PolicyDocument> {
  let byTenant = documents.get(deps);
  if (!byTenant) documents.set(deps, (byTenant = new Map()));
  const hit = byTenant.get(tenantId);
  if (hit && now - hit.at < CACHE_MS) return hit.doc;
  const stored = await deps.store.getTenantPolicy(tenantId);
  const operator = tenantId === OPERATOR_TENANT ? stored : await deps.store.getTenantPolicy(OPERATOR_TENANT);
  const doc = withFloor(operator?.document, tenantId, stored?.document);
  byTenant.set(tenantId, { at: now, doc });
  return doc;
}

/** The platform document with the operator's layer (the floor) and the tenant's own. */
function withFloor(operator: unknown, tenantId: string, own: unknown): PolicyDocument {
  const tenants: Record<string, unknown> = {};
  if (operator !== undefined) tenants[OPERATOR_TENANT] = operator;
  if (own !== undefined) tenants[tenantId] = own;
  return { ...loadPolicyDocument({ tenants }), floor: OPERATOR_TENANT };
}

/**
 * What a tenant's proposed document (already valid) would loosen below the operator's floor,
 * each naming its document path. Always empty for the operator, whose document is the floor.
 */
export async function floorViolationsFor(deps: PolicyHolder, tenantId: string, document: unknown) {
  if (tenantId === OPERATOR_TENANT) return [];
  const operator = await deps.store.getTenantPolicy(OPERATOR_TENANT);
  return tenantFloorViolations(withFloor(operator?.document, tenantId, document), tenantId);
}

export function forgetTenantPolicy(deps: PolicyHolder, tenantId: string) {
  // The operator's document is every tenant's floor.
  if (tenantId === OPERATOR_TENANT) documents.get(deps)?.clear();
  else documents.get(deps)?.delete(tenantId);
}

export async function policyFor(deps: PolicyHolder, at: { tenantId: string; lane: Lane; domain: string }, now: number): Promise<ResolvedPolicy> {
  return resolvePolicy(await tenantDocument(deps, at.tenantId, now), at);
}
