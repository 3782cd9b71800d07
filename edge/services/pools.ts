/**
 * Pools and source IPs as the operator's resources (SPEC §4, §7). A pool is shared (any tenant
 * may send through it) or dedicated to one tenant (only that tenant's mail: accept refuses the
 * others, and the hub's claim leases only its jobs). An IP is registered to a pool and,
 * optionally, to the node token whose nodes may send from it. Retiring an IP drains it first:
 * it gets no new leases at once (edge/hub/source-ips.ts), and becomes retired once no lease from
 * it is in flight. Every change is in the audit log.
 */
import type { AppDeps } from '../ports/app.ts';
import type { PoolInfo, SourceIpRecord } from '../ports/store.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { isIpLiteral } from '../../shared/mx.ts';
import { recordAudit, type AuditActor } from './audit.ts';
import { OPERATOR_TENANT } from './tenancy.ts';
import { forgetPools } from './send.ts';

type Deps = Pick<AppDeps, 'store' | 'now'>;
const nowOf = (deps: Deps) => deps.now?.() ?? Date.now();
const iso = (t: number) => new Date(t).toISOString();

export function poolView(p: PoolInfo, ips: SourceIpRecord[]) {
  return {
    name: p.name,
    kind: p.tenantId === null ? ('shared' as const) : ('dedicated' as const),
    tenant_id: p.tenantId,
    description: p.description,
    ips: ips.filter((ip) => ip.pool === p.name && ip.status !== 'retired').map((ip) => ip.address),
    created_at: iso(p.createdAt),
  };
}

export function sourceIpView(ip: SourceIpRecord, leasesOutstanding?: number) {
  return {
    address: ip.address,
    pool: ip.pool,
    node_token_id: ip.nodeTokenId,
    status: ip.status,
    ...(leasesOutstanding !== undefined ? { leases_outstanding: leasesOutstanding } : {}),
    created_at: iso(ip.createdAt),
    updated_at: iso(ip.updatedAt),
  };
}

/** Every tenant gets a key when it is created (POST /v1/tenants), so one without any does not exist. */
export async function tenantExists(store: Deps['store'], tenantId: string) {
  return (await store.listApiKeys(tenantId)).length > 0;
}

export async function createPool(deps: Deps, actor: AuditActor, input: { name: string; tenantId: string | null; description: string | null }) {
  if (input.tenantId !== null && !(await tenantExists(deps.store, input.tenantId))) throw invalid('tenant_id', `no tenant ${input.tenantId}`);
  const pool: PoolInfo = { name: input.name, tenantId: input.tenantId, description: input.description, createdAt: nowOf(deps) };
  if ((await deps.store.createPool(pool)) === 'exists') throw new ApiError('conflict', `pool ${input.name} exists`);
  forgetPools(deps);
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: 'pool.create', target: { kind: 'pool', id: pool.name }, before: null, after: poolView(pool, []) });
  return pool;
}

export async function updatePool(deps: Deps, actor: AuditActor, name: string, patch: { tenantId?: string | null; description?: string | null }) {
  const before = await deps.store.getPool(name);
  if (!before) throw new ApiError('not_found', `no pool ${name}`);
  if (patch.tenantId && !(await tenantExists(deps.store, patch.tenantId))) throw invalid('tenant_id', `no tenant ${patch.tenantId}`);
  await deps.store.updatePool(name, patch);
  forgetPools(deps);
  const after = (await deps.store.getPool(name))!;
  const ips = await deps.store.listSourceIps();
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: 'pool.update', target: { kind: 'pool', id: name }, before: poolView(before, ips), after: poolView(after, ips) });
  return { pool: after, ips };
}

export async function deletePool(deps: Deps, actor: AuditActor, name: string) {
  const before = await deps.store.getPool(name);
  if (!before) throw new ApiError('not_found', `no pool ${name}`);
  const outcome = await deps.store.deletePool(name);
  if (outcome === 'missing') throw new ApiError('not_found', `no pool ${name}`);
  if (outcome === 'in_use') throw new ApiError('conflict', `pool ${name} still has IPs bound; bind them elsewhere or retire them first`);
  forgetPools(deps);
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: 'pool.delete', target: { kind: 'pool', id: name }, before: poolView(before, []), after: null });
}

export async function putSourceIp(deps: Deps, actor: AuditActor, address: string, input: { pool: string; nodeTokenId: string | null }) {
  if (!isIpLiteral(address)) throw invalid('address', 'not an IPv4 or IPv6 literal');
  if (!(await deps.store.getPool(input.pool))) throw invalid('pool', `no pool ${input.pool}`);
  if (input.nodeTokenId !== null && !(await deps.store.getNodeToken(input.nodeTokenId))) throw invalid('node_token_id', `no node token ${input.nodeTokenId}`);
  const before = await deps.store.getSourceIp(address);
  if (before?.status === 'retired') throw new ApiError('conflict', `IP ${address} is retired`);
  const now = nowOf(deps);
  const ip: SourceIpRecord = { address, pool: input.pool, nodeTokenId: input.nodeTokenId, status: before?.status ?? 'active', createdAt: before?.createdAt ?? now, updatedAt: now };
  await deps.store.upsertSourceIp(ip);
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: before ? 'source_ip.update' : 'source_ip.create', target: { kind: 'source_ip', id: address }, before: before ? sourceIpView(before) : null, after: sourceIpView(ip) });
  return { ip, created: !before };
}

/**
 * Retire = drain, then retired: an active IP becomes draining (no new leases from now on); a
 * draining IP with no lease in flight becomes retired. Call again until `status` is retired.
 */
export async function retireSourceIp(deps: Deps, actor: AuditActor, address: string) {
  const before = await deps.store.getSourceIp(address);
  if (!before) throw new ApiError('not_found', `no registered IP ${address}`);
  if (before.status === 'retired') return { ip: before, outstanding: 0 };
  const now = nowOf(deps);
  if (before.status === 'active') await deps.store.setSourceIpStatus(address, ['active'], 'draining', now);
  const outstanding = await deps.store.leasesOnIp(address);
  if (outstanding === 0) await deps.store.setSourceIpStatus(address, ['draining'], 'retired', now);
  const after = (await deps.store.getSourceIp(address))!;
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: `source_ip.${after.status === 'retired' ? 'retire' : 'drain'}`, target: { kind: 'source_ip', id: address }, before: sourceIpView(before), after: sourceIpView(after, outstanding) });
  return { ip: after, outstanding };
}
