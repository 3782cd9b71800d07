/** Sending domains, and the DKIM keys the hub hands to nodes with their leases. */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { SendingDomainRecord } from '../../domain/records.ts';
import type { DomainStore } from '../../ports/store.ts';
import { sendingDomains } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

export class LibsqlDomains implements DomainStore {
  constructor(private readonly db: PostlaneDb) {}

  async createDomain(row: SendingDomainRecord) {
    const result = await this.db.insert(sendingDomains).values(row).onConflictDoNothing();
    return result.rowsAffected === 1 ? ('created' as const) : ('exists' as const);
  }

  async listDomains(tenantId: string) {
    return this.db.select().from(sendingDomains).where(eq(sendingDomains.tenantId, tenantId)).orderBy(asc(sendingDomains.domain));
  }

  async findDomain(tenantId: string, domain: string) {
    return (
      (await this.db.query.sendingDomains.findFirst({
        where: and(eq(sendingDomains.tenantId, tenantId), eq(sendingDomains.domain, domain)),
      })) ?? null
    );
  }

  async signingKeys(wanted: Array<{ tenantId: string; domain: string }>) {
    if (wanted.length === 0) return [];
    const rows = await this.db
      .select()
      .from(sendingDomains)
      .where(inArray(sendingDomains.domain, [...new Set(wanted.map((w) => w.domain))]));
    const keys = new Set(wanted.map((w) => `${w.tenantId}\n${w.domain}`));
    return rows
      .filter((r) => keys.has(`${r.tenantId}\n${r.domain}`))
      .map((r) => ({
        tenantId: r.tenantId,
        domain: r.domain,
        selector: r.dkimSelector,
        algorithm: r.dkimAlgorithm as 'rsa-sha256' | 'ed25519-sha256',
        privateKeyEnc: r.dkimPrivateKeyEnc,
      }));
  }
}
