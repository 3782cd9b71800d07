/** Pools and the source IPs registered to them (operator resources, SPEC §7). */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { PoolInfo, PoolStore, SourceIpRecord, SourceIpStatus } from '../../ports/store.ts';
import { pools, sourceIps } from '../schema.ts';
import { isUniqueViolation, type PostlaneDb } from './db.ts';

export class LibsqlPools implements PoolStore {
  constructor(private readonly db: PostlaneDb) {}

  listPools(): Promise<PoolInfo[]> {
    return this.db.select().from(pools).orderBy(asc(pools.name));
  }

  async getPool(name: string) {
    const [row] = await this.db.select().from(pools).where(eq(pools.name, name));
    return row ?? null;
  }

  async createPool(pool: PoolInfo) {
    try {
      await this.db.insert(pools).values(pool);
      return 'created' as const;
    } catch (error) {
      if (isUniqueViolation(error, 'pools')) return 'exists' as const;
      throw error;
    }
  }

  async updatePool(name: string, patch: { tenantId?: string | null; description?: string | null }) {
    const rows = await this.db.update(pools).set(patch).where(eq(pools.name, name)).returning({ name: pools.name });
    return rows.length > 0;
  }

  async deletePool(name: string) {
    // One statement: the pool goes only while no IP names it.
    const rows = await this.db.delete(pools).where(and(eq(pools.name, name), sql`NOT EXISTS (SELECT 1 FROM ${sourceIps} WHERE ${sourceIps.pool} = ${name})`)).returning({ name: pools.name });
    if (rows.length > 0) return 'deleted' as const;
    return (await this.getPool(name)) ? ('in_use' as const) : ('missing' as const);
  }

  async listSourceIps() {
    return (await this.db.select().from(sourceIps).orderBy(asc(sourceIps.address))) as SourceIpRecord[];
  }

  async getSourceIp(address: string) {
    const [row] = await this.db.select().from(sourceIps).where(eq(sourceIps.address, address));
    return (row as SourceIpRecord | undefined) ?? null;
  }

  async upsertSourceIp(ip: SourceIpRecord) {
    await this.db
      .insert(sourceIps)
      .values(ip)
      .onConflictDoUpdate({ target: sourceIps.address, set: { pool: ip.pool, nodeTokenId: ip.nodeTokenId, status: ip.status, updatedAt: ip.updatedAt } });
  }

  async setSourceIpStatus(address: string, from: SourceIpStatus[], to: SourceIpStatus, now: number) {
    const rows = await this.db
      .update(sourceIps)
      .set({ status: to, updatedAt: now })
      .where(and(eq(sourceIps.address, address), inArray(sourceIps.status, from)))
      .returning({ address: sourceIps.address });
    return rows.length > 0;
  }

  async leasesOnIp(address: string) {
    // A lease names its source IP (`ip`) when the shaper picked one, else the pool's IPs (`ips`).
    const [row] = await this.db.all<{ n: number }>(sql`
      SELECT count(*) AS n FROM delivery_jobs j
      WHERE j.state = 'leased' AND EXISTS (
        SELECT 1 FROM message_events e
        WHERE e.id = (SELECT max(id) FROM message_events WHERE message_id = j.message_id AND job_id = j.id AND type = 'leased')
          AND (json_extract(e.data, '$.ip') = ${address} OR EXISTS (SELECT 1 FROM json_each(e.data, '$.ips') WHERE value = ${address})))`);
    return Number(row?.n ?? 0);
  }
}
