/** Each tenant's policy layer, and the policy events: the "why" behind every change of pace. */
import { and, desc, eq, gte, inArray, sql } from 'drizzle-orm';
import type { NewPolicyEvent, PolicyStore } from '../../ports/store.ts';
import { policyEvents, tenantPolicies } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

export class LibsqlPolicy implements PolicyStore {
  constructor(private readonly db: PostlaneDb) {}

  async getTenantPolicy(tenantId: string) {
    const row = await this.db.query.tenantPolicies.findFirst({ where: eq(tenantPolicies.tenantId, tenantId) });
    return row ? { document: row.document, version: row.version, updatedAt: row.updatedAt } : null;
  }

  async putTenantPolicy(tenantId: string, document: Record<string, unknown>, updatedBy: string, now: number) {
    const [row] = await this.db
      .insert(tenantPolicies)
      .values({ tenantId, document, version: 1, updatedAt: now, updatedBy })
      .onConflictDoUpdate({ target: tenantPolicies.tenantId, set: { document, version: sql`${tenantPolicies.version} + 1`, updatedAt: now, updatedBy } })
      .returning({ version: tenantPolicies.version });
    return row.version;
  }

  async appendPolicyEvents(events: NewPolicyEvent[]) {
    if (events.length === 0) return;
    await this.db.insert(policyEvents).values(events);
  }

  async listPolicyEvents(since: number, limit: number) {
    return this.db.select().from(policyEvents).where(gte(policyEvents.at, since)).orderBy(desc(policyEvents.id)).limit(limit);
  }

  async listPolicyEventsFor(scope: string, key: string, limit: number) {
    return this.db.select().from(policyEvents).where(and(eq(policyEvents.scope, scope), eq(policyEvents.key, key))).orderBy(desc(policyEvents.id)).limit(limit);
  }

  async latestPolicyEvent(scope: string, keys: string[]) {
    if (keys.length === 0) return null;
    const [row] = await this.db
      .select()
      .from(policyEvents)
      .where(and(eq(policyEvents.scope, scope), inArray(policyEvents.key, keys)))
      .orderBy(desc(policyEvents.at), desc(policyEvents.id))
      .limit(1);
    return row ?? null;
  }
}
