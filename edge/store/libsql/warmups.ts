/** Warm-up rows: started and stopped through the API, their counts written back by the hub's gate. */
import { and, desc, eq } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { WarmupRecord } from '../../domain/records.ts';
import type { WarmupFilter, WarmupStateUpdate, WarmupStore } from '../../ports/store.ts';
import { warmups } from '../schema.ts';
import { isUniqueViolation, type PostlaneDb } from './db.ts';

export class LibsqlWarmups implements WarmupStore {
  constructor(private readonly db: PostlaneDb) {}

  async createWarmup(row: WarmupRecord) {
    try {
      await this.db.insert(warmups).values(row);
      return 'created' as const;
    } catch (error) {
      // The partial unique index on (scope, key) WHERE status = 'active'.
      if (isUniqueViolation(error, 'warmups')) return 'exists' as const;
      throw error;
    }
  }

  async getWarmup(id: string) {
    return (await this.db.query.warmups.findFirst({ where: eq(warmups.id, id) })) ?? null;
  }

  async listWarmups(filter: WarmupFilter = {}) {
    return this.db
      .select()
      .from(warmups)
      .where(and(filter.status ? eq(warmups.status, filter.status) : undefined, filter.scope ? eq(warmups.scope, filter.scope) : undefined, filter.key ? eq(warmups.key, filter.key) : undefined))
      .orderBy(desc(warmups.startedAt))
      .limit(500);
  }

  async saveWarmupStates(updates: WarmupStateUpdate[]) {
    if (updates.length === 0) return;
    const statements = updates.map((u) =>
      this.db
        .update(warmups)
        .set({ dayStart: u.dayStart, providers: u.providers, updatedAt: u.now, ...(u.status === 'complete' ? { status: 'complete', endedAt: u.now } : {}) })
        .where(and(eq(warmups.id, u.id), eq(warmups.status, 'active'))),
    );
    await this.db.batch(statements as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  }

  async endWarmup(id: string, status: 'stopped' | 'complete', now: number) {
    const r = await this.db.update(warmups).set({ status, endedAt: now, updatedAt: now }).where(and(eq(warmups.id, id), eq(warmups.status, 'active')));
    return r.rowsAffected === 1;
  }
}
