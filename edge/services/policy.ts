/**
 * The policy that applies to a send: the platform's policy document (shared/policy/defaults.ts)
 * with the tenant's own layer from the store, resolved per lane and sending domain. Cached
 * briefly per app instance; a PUT is seen within the TTL.
 */
import type { PolicyStore } from '../ports/store.ts';
import { DEFAULT_POLICY_DOCUMENT, loadPolicyDocument, resolvePolicy, type PolicyDocument, type ResolvedPolicy } from '../../shared/policy/defaults.ts';
import type { Lane } from '../../shared/policy/scheduler.ts';

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
  const doc = stored ? loadPolicyDocument({ tenants: { [tenantId]: stored.document } }) : DEFAULT_POLICY_DOCUMENT;
  byTenant.set(tenantId, { at: now, doc });
  return doc;
}

export function forgetTenantPolicy(deps: PolicyHolder, tenantId: string) {
  documents.get(deps)?.delete(tenantId);
}

export async function policyFor(deps: PolicyHolder, at: { tenantId: string; lane: Lane; domain: string }, now: number): Promise<ResolvedPolicy> {
  return resolvePolicy(await tenantDocument(deps, at.tenantId, now), at);
}
