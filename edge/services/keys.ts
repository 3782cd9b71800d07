/**
 * API keys and node tokens as resources (SPEC §7, §8): created with a secret shown once (only
 * its SHA-256 is stored), listed without it, revoked, rotated. A rotation issues a new secret and
 * ends the old one now, or after an overlap the caller chooses (`overlap_seconds`, at most a
 * week) so a deployment can switch without an outage. A rotated API key is a new key (its own
 * id, `rotated_from` the old); a rotated node token keeps its id, since IP bindings and the hub's
 * node ownership name it. Every change is in the audit log.
 */
import type { AppDeps } from '../ports/app.ts';
import type { ApiKeyInfo, NodeTokenInfo } from '../ports/store.ts';
import { ApiError } from '../../shared/errors.ts';
import { newId, newSecret, sha256Hex } from '../../shared/ids.ts';
import { forgetApiKey } from '../middleware/auth.ts';
import { recordAudit, type AuditActor } from './audit.ts';
import { OPERATOR_TENANT } from './tenancy.ts';

type Deps = Pick<AppDeps, 'store' | 'now'>;
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const nowOf = (deps: Deps) => deps.now?.() ?? Date.now();

export function apiKeyView(k: ApiKeyInfo) {
  return { id: k.id, tenant_id: k.tenantId, name: k.name, prefix: k.prefix, scopes: k.scopes, created_at: iso(k.createdAt)!, last_used_at: iso(k.lastUsedAt), revoked_at: iso(k.revokedAt), rotated_from: k.rotatedFrom };
}

export function nodeTokenView(t: NodeTokenInfo) {
  return { id: t.id, name: t.name, region: t.region, allowed_ips: t.allowedIps, created_at: iso(t.createdAt)!, revoked_at: iso(t.revokedAt), rotated_at: iso(t.rotatedAt), previous_secret_expires_at: iso(t.previousExpiresAt) };
}

async function newKeySecret(now: number) {
  const secret = newSecret('pl');
  return { secret, id: newId('key', now), keyHash: await sha256Hex(secret), prefix: secret.slice(0, 8) };
}

export async function createApiKey(deps: Deps, actor: AuditActor, tenantId: string, input: { name: string; scopes: string[] }) {
  const now = nowOf(deps);
  const { secret, ...key } = await newKeySecret(now);
  await deps.store.createApiKey(tenantId, { ...key, scopes: input.scopes, name: input.name }, now);
  const created = (await deps.store.getApiKey(tenantId, key.id))!;
  await recordAudit(deps, { actor, tenantId, action: 'api_key.create', target: { kind: 'api_key', id: key.id }, before: null, after: apiKeyView(created) });
  return { key: created, secret };
}

export async function revokeApiKey(deps: Deps, actor: AuditActor, tenantId: string, id: string) {
  const now = nowOf(deps);
  const before = await deps.store.getApiKey(tenantId, id);
  if (!before) throw new ApiError('not_found', `no API key ${id}`);
  if (!(await deps.store.revokeApiKey(tenantId, id, now))) throw new ApiError('conflict', `API key ${id} is already revoked`);
  forgetApiKey(deps, id);
  const after = (await deps.store.getApiKey(tenantId, id))!;
  await recordAudit(deps, { actor, tenantId, action: 'api_key.revoke', target: { kind: 'api_key', id }, before: apiKeyView(before), after: apiKeyView(after) });
  return after;
}

export async function rotateApiKey(deps: Deps, actor: AuditActor, tenantId: string, id: string, overlapSeconds: number) {
  const now = nowOf(deps);
  const old = await deps.store.getApiKey(tenantId, id);
  if (!old) throw new ApiError('not_found', `no API key ${id}`);
  const { secret, ...key } = await newKeySecret(now);
  const endsAt = now + overlapSeconds * 1000;
  if (!(await deps.store.rotateApiKey(tenantId, id, { ...key, scopes: old.scopes, name: old.name }, endsAt, now))) throw new ApiError('conflict', `API key ${id} is revoked; create a new key instead`);
  // With no overlap the old key stops now, here as in the store; with one, its cached record expires at the end.
  if (overlapSeconds === 0) forgetApiKey(deps, id);
  const [oldAfter, created] = await Promise.all([deps.store.getApiKey(tenantId, id), deps.store.getApiKey(tenantId, key.id)]);
  await recordAudit(deps, { actor, tenantId, action: 'api_key.rotate', target: { kind: 'api_key', id }, before: apiKeyView(old), after: { old: apiKeyView(oldAfter!), new: apiKeyView(created!) } });
  return { key: created!, secret, oldRevokedAt: endsAt };
}

export async function createNodeToken(deps: Deps, actor: AuditActor, input: { region: string; allowedIps: string[]; name: string | null }) {
  const now = nowOf(deps);
  const token = newSecret('plnode');
  const id = newId('ntk', now);
  await deps.store.createNodeToken({ id, tokenHash: await sha256Hex(token), region: input.region, allowedIps: input.allowedIps, name: input.name, now });
  const created = (await deps.store.getNodeToken(id))!;
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: 'node_token.create', target: { kind: 'node_token', id }, before: null, after: nodeTokenView(created) });
  return { token: created, secret: token };
}

export async function revokeNodeToken(deps: Deps, actor: AuditActor, id: string) {
  const now = nowOf(deps);
  const before = await deps.store.getNodeToken(id);
  if (!before) throw new ApiError('not_found', `no node token ${id}`);
  if (!(await deps.store.revokeNodeToken(id, now))) throw new ApiError('conflict', `node token ${id} is already revoked`);
  const after = (await deps.store.getNodeToken(id))!;
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: 'node_token.revoke', target: { kind: 'node_token', id }, before: nodeTokenView(before), after: nodeTokenView(after) });
  return after;
}

export async function rotateNodeToken(deps: Deps, actor: AuditActor, id: string, overlapSeconds: number) {
  const now = nowOf(deps);
  const old = await deps.store.getNodeToken(id);
  if (!old) throw new ApiError('not_found', `no node token ${id}`);
  const secret = newSecret('plnode');
  const previousExpiresAt = now + overlapSeconds * 1000;
  if (!(await deps.store.rotateNodeToken(id, await sha256Hex(secret), previousExpiresAt, now))) throw new ApiError('conflict', `node token ${id} is revoked; create a new token instead`);
  const after = (await deps.store.getNodeToken(id))!;
  await recordAudit(deps, { actor, tenantId: OPERATOR_TENANT, action: 'node_token.rotate', target: { kind: 'node_token', id }, before: nodeTokenView(old), after: nodeTokenView(after) });
  return { token: after, secret };
}
