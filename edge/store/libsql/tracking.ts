/** Tracking's one question to the store: which recipients this tenant's lane has reached before. */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { TrackingStore } from '../../ports/tracking.ts';
import { deliveryJobs } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

export class LibsqlTracking implements TrackingStore {
  constructor(private readonly db: PostlaneDb) {}

  async deliveredBefore(tenantId: string, lane: string, addresses: string[]) {
    if (addresses.length === 0) return [];
    const lower = sql<string>`lower(${deliveryJobs.recipient})`;
    const rows = await this.db
      .selectDistinct({ address: lower })
      .from(deliveryJobs)
      .where(and(eq(deliveryJobs.tenantId, tenantId), eq(deliveryJobs.lane, lane), eq(deliveryJobs.state, 'delivered'), inArray(lower, addresses.map((a) => a.toLowerCase()))));
    return rows.map((r) => r.address);
  }
}
