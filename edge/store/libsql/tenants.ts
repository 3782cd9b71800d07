/** Tenants with their API keys, and the tokens MTA nodes connect with: both stored as hashes. */
import { eq } from 'drizzle-orm';
import type { NewApiKey, NewNodeToken, NewTenant, TenantStore } from '../../ports/store.ts';
import { apiKeys, nodeTokens, tenants } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

export class LibsqlTenants implements TenantStore {
  constructor(private readonly db: PostlaneDb) {}

  async findApiKey(keyHash: string) {
    const row = await this.db.query.apiKeys.findFirst({ where: eq(apiKeys.keyHash, keyHash) });
    if (!row || row.revokedAt) return null;
    return { keyId: row.id, tenantId: row.tenantId, scopes: row.scopes };
  }

  async createTenant(tenant: NewTenant, key: NewApiKey) {
    await this.db.batch([
      this.db.insert(tenants).values({ id: tenant.id, name: tenant.name, createdAt: tenant.now }),
      this.db.insert(apiKeys).values({ ...key, tenantId: tenant.id, name: 'initial', createdAt: tenant.now }),
    ]);
  }

  async findNodeToken(tokenHash: string) {
    const row = await this.db.query.nodeTokens.findFirst({ where: eq(nodeTokens.tokenHash, tokenHash) });
    if (!row || row.revokedAt) return null;
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
