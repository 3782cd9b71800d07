/**
 * Suppressions (SPEC §5) and the feedback reports that add them. Looked up on every accept, so
 * concurrent lookups (Node) share one query per tenant: the lookups of one event-loop turn are
 * answered together on the next. Nothing is cached, so a suppression added a moment ago
 * applies to the next request.
 */
import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { InStatement, InValue } from '@libsql/client';
import type { SuppressionRecord } from '../../domain/records.ts';
import type { FeedbackRecording, NewSuppression, SuppressionQuery, SuppressionStore } from '../../ports/store.ts';
import { suppressions } from '../schema.ts';
import { chunks, eventStatements, type PostlaneDb } from './db.ts';
import { rollupStatements } from './rollups.ts';
import { nextMacrotask } from './group-commit.ts';

interface PendingLookup {
  tenantId: string;
  addresses: string[];
  resolve(rows: SuppressionRecord[]): void;
  reject(error: unknown): void;
}

export class LibsqlSuppressions implements SuppressionStore {
  private pendingLookups: PendingLookup[] = [];

  /** `coalesce` false: every lookup is its own query (Workers, see LibsqlStoreOptions). */
  constructor(
    private readonly db: PostlaneDb,
    private readonly coalesce: boolean,
  ) {}

  async addSuppressions(rows: NewSuppression[]) {
    if (rows.length === 0) return [];
    const added: string[] = [];
    for (const part of chunks(rows)) {
      const out = await this.db.insert(suppressions).values(part).onConflictDoNothing().returning({ address: suppressions.address });
      added.push(...out.map((r) => r.address));
    }
    return added;
  }

  findSuppressions(tenantId: string, addresses: string[]): Promise<SuppressionRecord[]> {
    if (!this.coalesce) return this.querySuppressions(tenantId, addresses);
    return new Promise((resolve, reject) => {
      this.pendingLookups.push({ tenantId, addresses, resolve, reject });
      if (this.pendingLookups.length === 1) void nextMacrotask().then(() => this.lookupPending());
    });
  }

  private async lookupPending() {
    const lookups = this.pendingLookups.splice(0);
    const byTenant = new Map<string, PendingLookup[]>();
    for (const l of lookups) byTenant.set(l.tenantId, [...(byTenant.get(l.tenantId) ?? []), l]);
    for (const [tenantId, group] of byTenant) {
      try {
        const rows = await this.querySuppressions(tenantId, group.flatMap((l) => l.addresses));
        const byAddress = new Map(rows.map((r) => [r.address, r]));
        for (const l of group) l.resolve([...new Set(l.addresses)].flatMap((a) => byAddress.get(a) ?? []));
      } catch (error) {
        for (const l of group) l.reject(error);
      }
    }
  }

  private async querySuppressions(tenantId: string, addresses: string[]) {
    const out: SuppressionRecord[] = [];
    for (const part of chunks([...new Set(addresses)], 500)) {
      out.push(...(await this.db.select().from(suppressions).where(and(eq(suppressions.tenantId, tenantId), inArray(suppressions.address, part)))));
    }
    return out;
  }

  async listSuppressions(tenantId: string, q: SuppressionQuery) {
    const where: SQL[] = [eq(suppressions.tenantId, tenantId)];
    if (q.reason) where.push(eq(suppressions.reason, q.reason));
    // instr, not LIKE: the caller's text has no wildcards to escape.
    if (q.contains) where.push(sql`instr(${suppressions.address}, ${q.contains.toLowerCase()}) > 0`);
    if (q.before !== undefined) where.push(sql`${suppressions.id} < ${q.before}`);
    return this.db.select().from(suppressions).where(and(...where)).orderBy(desc(suppressions.id)).limit(q.limit);
  }

  async deleteSuppression(tenantId: string, address: string) {
    const out = await this.db.delete(suppressions).where(and(eq(suppressions.tenantId, tenantId), eq(suppressions.address, address.toLowerCase()))).returning({ id: suppressions.id });
    return out.length > 0;
  }

  async recordFeedback(input: FeedbackRecording) {
    // The rollups move in the events' own transaction (edge/stats/rollup.ts).
    const statements: InStatement[] = [...eventStatements(input.events), ...(await rollupStatements(this.db, input.events))];
    const inserts = chunks(input.suppressions).map((part) => {
      const q = this.db.insert(suppressions).values(part).onConflictDoNothing().returning({ address: suppressions.address }).toSQL();
      return { sql: q.sql, args: q.params as InValue[] };
    });
    statements.push(...inserts);
    if (statements.length === 0) return [];
    const results = await this.db.$client.batch(statements, 'write');
    return results.slice(results.length - inserts.length).flatMap((r) => r.rows.map((row) => String(row.address)));
  }
}
