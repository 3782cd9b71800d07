/** Sending domains, and the DKIM keys the hub hands to nodes with their leases. */
import { and, asc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { SendingDomainRecord } from '../../domain/records.ts';
import type { DomainCheckUpdate, DomainStore } from '../../ports/store.ts';
import { policyEvents, sendingDomains } from '../schema.ts';
import { isUniqueViolation, type PostlaneDb } from './db.ts';

export class LibsqlDomains implements DomainStore {
  constructor(private readonly db: PostlaneDb) {}

  async createDomain(row: SendingDomainRecord) {
    const result = await this.db.insert(sendingDomains).values(row).onConflictDoNothing();
    return result.rowsAffected === 1 ? ('created' as const) : ('exists' as const);
  }

  async deleteDomain(tenantId: string, id: string) {
    const rows = await this.db
      .delete(sendingDomains)
      .where(
        and(
          eq(sendingDomains.tenantId, tenantId),
          eq(sendingDomains.id, id),
          sql`NOT EXISTS (SELECT 1 FROM delivery_jobs j WHERE j.tenant_id = ${tenantId} AND j.sender_domain = ${sendingDomains.domain} AND j.state IN ('queued', 'leased', 'held'))`,
        ),
      )
      .returning({ id: sendingDomains.id });
    if (rows.length > 0) return 'deleted' as const;
    return (await this.getDomain(tenantId, id)) ? ('in_use' as const) : ('not_found' as const);
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

  async getDomain(tenantId: string, id: string) {
    return (
      (await this.db.query.sendingDomains.findFirst({
        where: and(eq(sendingDomains.tenantId, tenantId), eq(sendingDomains.id, id)),
      })) ?? null
    );
  }

  async verifiedOwner(domain: string) {
    const [row] = await this.db
      .select({ tenantId: sendingDomains.tenantId, id: sendingDomains.id })
      .from(sendingDomains)
      .where(and(eq(sendingDomains.domain, domain), eq(sendingDomains.status, 'verified')))
      .limit(1);
    return row ?? null;
  }

  async saveDomainCheck(u: DomainCheckUpdate) {
    const update = this.db
      .update(sendingDomains)
      .set({ status: u.status, checks: u.checks, checkedAt: u.checkedAt, verifiedAt: u.verifiedAt })
      .where(and(eq(sendingDomains.id, u.id), eq(sendingDomains.tenantId, u.tenantId), eq(sendingDomains.status, u.fromStatus)))
      .returning({ id: sendingDomains.id });
    try {
      if (u.events.length === 0) return (await update).length === 1 ? ('saved' as const) : ('stale' as const);
      // The events only when the guarded update applied: the INSERT selects on the row's new state.
      const [updated] = await this.db.batch([
        update,
        ...u.events.map((e) =>
          this.db.run(sql`INSERT INTO ${policyEvents} (scope, key, type, from_state, to_state, reason, at, data)
            SELECT ${e.scope}, ${e.key}, ${e.type}, ${e.fromState}, ${e.toState}, ${e.reason}, ${e.at}, ${e.data === null ? null : JSON.stringify(e.data)}
            FROM ${sendingDomains} WHERE id = ${u.id} AND status = ${u.status} AND checked_at = ${u.checkedAt}`),
        ),
      ]);
      return updated.length === 1 ? ('saved' as const) : ('stale' as const);
    } catch (error) {
      if (isUniqueViolation(error, 'sending_domains')) return 'taken' as const;
      throw error;
    }
  }

  async domainsDue(checkedBefore: number, limit: number) {
    return this.db
      .select()
      .from(sendingDomains)
      .where(or(isNull(sendingDomains.checkedAt), lt(sendingDomains.checkedAt, checkedBefore)))
      .orderBy(sql`${sendingDomains.checkedAt} IS NOT NULL`, asc(sendingDomains.checkedAt))
      .limit(limit);
  }

  async ensureVerifyToken(id: string, token: string) {
    await this.db.update(sendingDomains).set({ verifyToken: token }).where(and(eq(sendingDomains.id, id), isNull(sendingDomains.verifyToken)));
    const [row] = await this.db.select({ token: sendingDomains.verifyToken }).from(sendingDomains).where(eq(sendingDomains.id, id));
    return row?.token ?? token;
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
