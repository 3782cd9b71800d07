/**
 * Configuration versions and plans, and the apply: every resource write of a plan, the new
 * version row, the plan's applied mark and the audit entries go in ONE batch (one transaction).
 * The version row comes first and takes `seq = base + 1` under a unique index, so of two applies
 * planned against the same version exactly one commits; the other's batch fails whole.
 */
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { ConfigApply, ConfigPlanRecord, ConfigStore, ConfigVersionRecord, ConfigWrite } from '../../ports/store.ts';
import { configPlans, configVersions, pools, sendingDomains, sourceIps, tenantPolicies, webhookEndpoints } from '../schema.ts';
import { auditInserts } from './audit.ts';
import { isUniqueViolation, type PostlaneDb } from './db.ts';

function withoutReset<T extends { resetFailures?: boolean }>(patch: T): Omit<T, 'resetFailures'> {
  const { resetFailures: _, ...fields } = patch;
  return fields;
}

export class LibsqlConfig implements ConfigStore {
  constructor(private readonly db: PostlaneDb) {}

  async latestConfigVersion(tenantId: string) {
    const [row] = await this.db.select().from(configVersions).where(eq(configVersions.tenantId, tenantId)).orderBy(desc(configVersions.seq)).limit(1);
    return (row as ConfigVersionRecord | undefined) ?? null;
  }

  async listConfigVersions(tenantId: string, limit: number, beforeSeq?: number) {
    const where = and(eq(configVersions.tenantId, tenantId), beforeSeq !== undefined ? lt(configVersions.seq, beforeSeq) : undefined);
    return (await this.db.select().from(configVersions).where(where).orderBy(desc(configVersions.seq)).limit(limit)) as ConfigVersionRecord[];
  }

  async getConfigVersion(tenantId: string, id: string) {
    const [row] = await this.db.select().from(configVersions).where(and(eq(configVersions.tenantId, tenantId), eq(configVersions.id, id)));
    return (row as ConfigVersionRecord | undefined) ?? null;
  }

  async saveConfigPlan(plan: ConfigPlanRecord) {
    await this.db.insert(configPlans).values(plan);
  }

  async getConfigPlan(tenantId: string, id: string) {
    const [row] = await this.db.select().from(configPlans).where(and(eq(configPlans.tenantId, tenantId), eq(configPlans.id, id)));
    return (row as ConfigPlanRecord | undefined) ?? null;
  }

  async applyConfig({ plan, version, writes, audit }: ConfigApply) {
    const db = this.db;
    try {
      await db.batch([
        db.insert(configVersions).values(version),
        // A plan applies once: a second apply of it finds applied_at set and changes nothing here,
        // but its version row (same seq) has already failed the batch.
        db.update(configPlans).set({ appliedAt: version.appliedAt }).where(and(eq(configPlans.id, plan.id), isNull(configPlans.appliedAt))),
        ...writes.map((w) => this.statement(w)),
        ...auditInserts(db, audit),
      ]);
      return 'applied' as const;
    } catch (error) {
      if (isUniqueViolation(error, 'config_versions')) return 'conflict' as const;
      throw error;
    }
  }

  private statement(w: ConfigWrite) {
    const db = this.db;
    switch (w.kind) {
      case 'pool':
        if (w.op === 'delete') return db.delete(pools).where(eq(pools.name, w.name));
        return db.insert(pools).values(w.pool).onConflictDoUpdate({ target: pools.name, set: { tenantId: w.pool.tenantId, description: w.pool.description } });
      case 'ip':
        if (w.op === 'delete') return db.delete(sourceIps).where(eq(sourceIps.address, w.address));
        return db.insert(sourceIps).values(w.ip).onConflictDoUpdate({ target: sourceIps.address, set: { pool: w.ip.pool, nodeTokenId: w.ip.nodeTokenId, status: w.ip.status, updatedAt: w.ip.updatedAt } });
      case 'domain':
        if (w.op === 'delete') return db.delete(sendingDomains).where(and(eq(sendingDomains.tenantId, w.tenantId), eq(sendingDomains.id, w.id)));
        if (w.op === 'update') return db.update(sendingDomains).set({ returnPathDomain: w.returnPathDomain }).where(and(eq(sendingDomains.tenantId, w.tenantId), eq(sendingDomains.id, w.id)));
        return db.insert(sendingDomains).values(w.row);
      case 'webhook':
        if (w.op === 'delete') return db.delete(webhookEndpoints).where(and(eq(webhookEndpoints.tenantId, w.tenantId), eq(webhookEndpoints.id, w.id)));
        if (w.op === 'update') return db.update(webhookEndpoints).set({ ...withoutReset(w.patch), updatedAt: w.now }).where(and(eq(webhookEndpoints.tenantId, w.tenantId), eq(webhookEndpoints.id, w.id)));
        // Events committed before the endpoint are not its to receive (as createWebhookEndpoint).
        return db.insert(webhookEndpoints).values({ ...w.row, startEventId: sql`(SELECT coalesce(max(id), 0) FROM message_events)` });
      case 'policy':
        if (w.document === null) return db.delete(tenantPolicies).where(eq(tenantPolicies.tenantId, w.tenantId));
        return db
          .insert(tenantPolicies)
          .values({ tenantId: w.tenantId, document: w.document, version: 1, updatedAt: w.now, updatedBy: w.updatedBy })
          .onConflictDoUpdate({ target: tenantPolicies.tenantId, set: { document: w.document, version: sql`${tenantPolicies.version} + 1`, updatedAt: w.now, updatedBy: w.updatedBy } });
    }
  }
}
