/**
 * Store concerns of operator control (SPEC §7): the audit log, API keys and node tokens as
 * resources, pools and source IPs, configuration plans and versions. Part of `Store` (./store.ts).
 */
import type { SendingDomainRecord } from '../domain/records.ts';
import type { NewApiKey } from './store.ts';
import type { WebhookEndpointPatch, WebhookEndpointRecord } from './webhooks.ts';

export interface AuditEntryRecord {
  id: number;
  at: number;
  actorKeyId: string;
  actorKeyName: string | null;
  actorTenantId: string | null;
  tenantId: string | null;
  action: string;
  targetKind: string;
  targetId: string;
  before: unknown;
  after: unknown;
  reason: string | null;
}

export type NewAuditEntry = Omit<AuditEntryRecord, 'id'>;

export interface AuditQuery {
  /** Only this tenant's entries (an operator's query may leave it out: every tenant's). */
  tenantId?: string;
  actorKeyId?: string;
  targetKind?: string;
  targetId?: string;
  since?: number;
  until?: number;
  /** Keyset cursor: entries with a smaller id (newest first). */
  before?: number;
  /** Keyset cursor the other way: entries with a larger id, oldest first (the NDJSON export). */
  after?: number;
  limit: number;
}

export interface AuditStore {
  /** Append-only: there is no update or delete. */
  appendAudit(entries: NewAuditEntry[]): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditEntryRecord[]>;
}

export interface ApiKeyInfo {
  id: string;
  tenantId: string;
  name: string | null;
  prefix: string;
  scopes: string[];
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  rotatedFrom: string | null;
}

export interface NodeTokenInfo {
  id: string;
  name: string | null;
  region: string;
  allowedIps: string[];
  createdAt: number;
  revokedAt: number | null;
  rotatedAt: number | null;
  /** The secret replaced by the last rotation works until then. */
  previousExpiresAt: number | null;
}

export interface KeyStore {
  createApiKey(tenantId: string, key: NewApiKey & { name: string | null; rotatedFrom?: string | null }, now: number): Promise<void>;
  listApiKeys(tenantId: string): Promise<ApiKeyInfo[]>;
  getApiKey(tenantId: string, id: string): Promise<ApiKeyInfo | null>;
  /** Sets revoked_at (now: revoked; later: the end of a rotation's overlap) on a key not yet revoked earlier. */
  revokeApiKey(tenantId: string, id: string, at: number): Promise<boolean>;
  /** A rotation: the new key and the old one's end, in one transaction. */
  rotateApiKey(tenantId: string, oldId: string, key: NewApiKey & { name: string | null }, oldRevokedAt: number, now: number): Promise<boolean>;
  touchApiKey(id: string, at: number): Promise<void>;
  listNodeTokens(): Promise<NodeTokenInfo[]>;
  getNodeToken(id: string): Promise<NodeTokenInfo | null>;
  revokeNodeToken(id: string, at: number): Promise<boolean>;
  /** A new secret for the same token id; the old one stays valid until `previousExpiresAt`. */
  rotateNodeToken(id: string, tokenHash: string, previousExpiresAt: number, now: number): Promise<boolean>;
}

export interface PoolInfo {
  name: string;
  tenantId: string | null;
  description: string | null;
  createdAt: number;
}

export type SourceIpStatus = 'active' | 'draining' | 'retired';

export interface SourceIpRecord {
  address: string;
  pool: string;
  nodeTokenId: string | null;
  status: SourceIpStatus;
  createdAt: number;
  updatedAt: number;
}

export interface PoolStore {
  listPools(): Promise<PoolInfo[]>;
  getPool(name: string): Promise<PoolInfo | null>;
  /** 'exists' when a pool of that name is there already. */
  createPool(pool: PoolInfo): Promise<'created' | 'exists'>;
  updatePool(name: string, patch: { tenantId?: string | null; description?: string | null }): Promise<boolean>;
  /** 'in_use' while an IP is bound to it. */
  deletePool(name: string): Promise<'deleted' | 'missing' | 'in_use'>;
  listSourceIps(): Promise<SourceIpRecord[]>;
  getSourceIp(address: string): Promise<SourceIpRecord | null>;
  upsertSourceIp(ip: SourceIpRecord): Promise<void>;
  /** Applies only while the IP is in one of `from` (a racing change wins otherwise). */
  setSourceIpStatus(address: string, from: SourceIpStatus[], to: SourceIpStatus, now: number): Promise<boolean>;
  /** Jobs leased now whose latest lease names this source IP (or lists it among the pool's IPs). */
  leasesOnIp(address: string): Promise<number>;
}

export interface ConfigVersionRecord {
  id: string;
  tenantId: string;
  seq: number;
  document: Record<string, unknown>;
  changes: unknown[];
  stateHash: string;
  kind: 'apply' | 'rollback';
  rollbackOf: string | null;
  appliedBy: string;
  appliedAt: number;
}

export interface ConfigPlanRecord {
  id: string;
  tenantId: string;
  baseSeq: number;
  stateHash: string;
  document: Record<string, unknown>;
  changes: unknown[];
  kind: 'apply' | 'rollback';
  rollbackOf: string | null;
  createdBy: string;
  createdAt: number;
  appliedAt: number | null;
}

/** One row write of an apply, per resource kind (edge/services/config/apply.ts builds them). */
export type ConfigWrite =
  | { kind: 'pool'; op: 'create' | 'update'; pool: PoolInfo }
  | { kind: 'pool'; op: 'delete'; name: string }
  | { kind: 'ip'; op: 'upsert'; ip: SourceIpRecord }
  | { kind: 'ip'; op: 'delete'; address: string }
  | { kind: 'domain'; op: 'create'; row: SendingDomainRecord }
  | { kind: 'domain'; op: 'update'; tenantId: string; id: string; returnPathDomain: string }
  | { kind: 'domain'; op: 'delete'; tenantId: string; id: string }
  | { kind: 'webhook'; op: 'create'; row: Omit<WebhookEndpointRecord, 'startEventId'> }
  | { kind: 'webhook'; op: 'update'; tenantId: string; id: string; patch: WebhookEndpointPatch; now: number }
  | { kind: 'webhook'; op: 'delete'; tenantId: string; id: string }
  | { kind: 'policy'; op: 'put'; tenantId: string; document: Record<string, unknown> | null; updatedBy: string; now: number };

export interface ConfigApply {
  plan: ConfigPlanRecord;
  version: ConfigVersionRecord;
  writes: ConfigWrite[];
  audit: NewAuditEntry[];
}

export interface ConfigStore {
  latestConfigVersion(tenantId: string): Promise<ConfigVersionRecord | null>;
  listConfigVersions(tenantId: string, limit: number, beforeSeq?: number): Promise<ConfigVersionRecord[]>;
  getConfigVersion(tenantId: string, id: string): Promise<ConfigVersionRecord | null>;
  saveConfigPlan(plan: ConfigPlanRecord): Promise<void>;
  getConfigPlan(tenantId: string, id: string): Promise<ConfigPlanRecord | null>;
  /**
   * Every write, the version, the plan's applied mark and the audit entries in one transaction:
   * 'conflict' (nothing written) when another version took `plan.baseSeq + 1` first.
   */
  applyConfig(apply: ConfigApply): Promise<'applied' | 'conflict'>;
}
