/**
 * API keys and node tokens as resources: list, revoke, rotate. A revocation is a time
 * (`revoked_at`): now for a revoke, ahead of now for the old key of a rotation with an overlap;
 * the lookups (edge/store/libsql/tenants.ts) refuse a key from that time on. A node token's
 * rotation keeps its id and keeps the old hash beside the new one until the overlap ends.
 */
import { and, asc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { ApiKeyInfo, KeyStore, NewApiKey, NodeTokenInfo } from '../../ports/store.ts';
import { apiKeys, nodeTokens } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

const keyColumns = {
  id: apiKeys.id,
  tenantId: apiKeys.tenantId,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
  rotatedFrom: apiKeys.rotatedFrom,
};
const tokenColumns = {
  id: nodeTokens.id,
  name: nodeTokens.name,
  region: nodeTokens.region,
  allowedIps: nodeTokens.allowedIps,
  createdAt: nodeTokens.createdAt,
  revokedAt: nodeTokens.revokedAt,
  rotatedAt: nodeTokens.rotatedAt,
  previousExpiresAt: nodeTokens.previousExpiresAt,
};

/** Not revoked, or revoked only from a later time than `at`. */
const liveKey = (at: number) => or(isNull(apiKeys.revokedAt), gt(apiKeys.revokedAt, at));
const liveToken = (at: number) => or(isNull(nodeTokens.revokedAt), gt(nodeTokens.revokedAt, at));

export class LibsqlKeys implements KeyStore {
  constructor(private readonly db: PostlaneDb) {}

  async createApiKey(tenantId: string, key: NewApiKey & { name: string | null; rotatedFrom?: string | null }, now: number) {
    await this.db.insert(apiKeys).values({ ...key, rotatedFrom: key.rotatedFrom ?? null, tenantId, createdAt: now });
  }

  listApiKeys(tenantId: string): Promise<ApiKeyInfo[]> {
    return this.db.select(keyColumns).from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
  }

  async getApiKey(tenantId: string, id: string) {
    const [row] = await this.db.select(keyColumns).from(apiKeys).where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id)));
    return row ?? null;
  }

  async revokeApiKey(tenantId: string, id: string, at: number) {
    const rows = await this.db.update(apiKeys).set({ revokedAt: at }).where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id), liveKey(at))).returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  async rotateApiKey(tenantId: string, oldId: string, key: NewApiKey & { name: string | null }, oldRevokedAt: number, now: number) {
    // The new key is inserted only if the old one was still live: one statement decides.
    const [end, insert] = await this.db.batch([
      this.db.update(apiKeys).set({ revokedAt: sql`min(coalesce(${apiKeys.revokedAt}, ${oldRevokedAt}), ${oldRevokedAt})` }).where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, oldId), liveKey(now))).returning({ id: apiKeys.id }),
      this.db.run(sql`INSERT INTO api_keys (id, tenant_id, key_hash, prefix, scopes, name, created_at, rotated_from)
        SELECT ${key.id}, ${tenantId}, ${key.keyHash}, ${key.prefix}, ${JSON.stringify(key.scopes)}, ${key.name}, ${now}, ${oldId}
        WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ${oldId} AND tenant_id = ${tenantId} AND revoked_at = ${oldRevokedAt})`),
    ]);
    return end.length > 0 && insert.rowsAffected > 0;
  }

  async touchApiKey(id: string, at: number) {
    await this.db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
  }

  listNodeTokens(): Promise<NodeTokenInfo[]> {
    return this.db.select(tokenColumns).from(nodeTokens).orderBy(asc(nodeTokens.createdAt), asc(nodeTokens.id));
  }

  async getNodeToken(id: string) {
    const [row] = await this.db.select(tokenColumns).from(nodeTokens).where(eq(nodeTokens.id, id));
    return row ?? null;
  }

  async revokeNodeToken(id: string, at: number) {
    const rows = await this.db.update(nodeTokens).set({ revokedAt: at }).where(and(eq(nodeTokens.id, id), liveToken(at))).returning({ id: nodeTokens.id });
    return rows.length > 0;
  }

  async rotateNodeToken(id: string, tokenHash: string, previousExpiresAt: number, now: number) {
    // The current hash moves to previous_token_hash in the same statement that sets the new one.
    const rows = await this.db
      .update(nodeTokens)
      .set({ previousTokenHash: sql`${nodeTokens.tokenHash}`, previousExpiresAt, tokenHash, rotatedAt: now })
      .where(and(eq(nodeTokens.id, id), liveToken(now)))
      .returning({ id: nodeTokens.id });
    return rows.length > 0;
  }

}
