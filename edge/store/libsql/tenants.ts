/** Tenants with their API keys, and the tokens MTA nodes connect with: both stored as hashes. */
import { and, eq, gt, or } from 'drizzle-orm';
import type { NewApiKey, NewNodeToken, NewTenant, TenantStore } from '../../ports/store.ts';
import { apiKeys, nodeTokens, tenants } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

export class LibsqlTenants implements TenantStore {
  constructor(private readonly db: PostlaneDb) {}

  async findApiKey(keyHash: string) {
    const row = await this.db.query.apiKeys.findFirst({ where: eq(apiKeys.keyHash, keyHash) });
    // A rotated key stays valid until its revoked_at (the overlap); the caller's cache checks expiresAt.
    if (!row || (row.revokedAt !== null && row.revokedAt <= Date.now())) return null;
    return { keyId: row.id, tenantId: row.tenantId, scopes: row.scopes, name: row.name, expiresAt: row.revokedAt };
  }

  async findApiKeyById(keyId: string) {
    const row = await this.db.query.apiKeys.findFirst({ where: eq(apiKeys.id, keyId) });
    // As findApiKey: live until its revoked_at (a rotation's overlap), refused from then on.
    if (!row || (row.revokedAt !== null && row.revokedAt <= Date.now())) return null;
    return { keyId: row.id, tenantId: row.tenantId, scopes: row.scopes, name: row.name, expiresAt: row.revokedAt };
  }

  async createTenant(tenant: NewTenant, key: NewApiKey) {
    await this.db.batch([
      this.db.insert(tenants).values({ id: tenant.id, name: tenant.name, createdAt: tenant.now }),
      this.db.insert(apiKeys).values({ ...key, tenantId: tenant.id, name: 'initial', createdAt: tenant.now }),
    ]);
  }

  async findNodeToken(tokenHash: string) {
    const now = Date.now();
    // The current secret, or the one a rotation replaced while its overlap lasts.
    const row = await this.db.query.nodeTokens.findFirst({
      where: or(eq(nodeTokens.tokenHash, tokenHash), and(eq(nodeTokens.previousTokenHash, tokenHash), gt(nodeTokens.previousExpiresAt, now))),
    });
    if (!row || (row.revokedAt !== null && row.revokedAt <= now)) return null;
    return { id: row.id, region: row.region, allowedIps: row.allowedIps };
  }

  async createNodeToken(input: NewNodeToken) {
    await this.db.insert(nodeTokens).values({
      id: input.id,
      tokenHash: input.tokenHash,
      region: input.region,
      allowedIps: input.allowedIps,
      name: input.name ?? null,
      createdAt: input.now,
    });
  }
}
