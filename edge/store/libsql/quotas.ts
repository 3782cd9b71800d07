/** Quota usage per quarter hour: added after each accept, summed for daily caps and the trailing pattern. */
import { and, eq, gte, sql } from 'drizzle-orm';
import type { QuotaUsageRow } from '../../ports/operator.ts';
import { quotaUsage } from '../schema.ts';
import { chunks, type PostlaneDb } from './db.ts';

export class LibsqlQuotas {
  constructor(private readonly db: PostlaneDb) {}

  async addQuotaUsage(rows: QuotaUsageRow[]) {
    if (rows.length === 0) return;
    const statements = chunks(rows, 100).map((part) =>
      this.db
        .insert(quotaUsage)
        .values(part)
        .onConflictDoUpdate({ target: [quotaUsage.tenantId, quotaUsage.bucket, quotaUsage.senderDomain, quotaUsage.lane], set: { recipients: sql`${quotaUsage.recipients} + excluded.recipients` } }),
    );
    await this.db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
  }

  async quotaUsage(tenantId: string, since: number): Promise<QuotaUsageRow[]> {
    return this.db.select().from(quotaUsage).where(and(eq(quotaUsage.tenantId, tenantId), gte(quotaUsage.bucket, since)));
  }
}
