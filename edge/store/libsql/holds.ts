/**
 * Rogue-batch holds. A hold's jobs are the tenant's (scope `tenant`) or its sending domain's
 * (scope `domain`) jobs in state `held`: the claim takes only `queued` jobs, so they wait until
 * the hold is decided. A decision is one transaction: the hold, each job's trace entry, the jobs.
 */
import { and, desc, eq, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { HoldDecision, HoldRecord, HoldStatus } from '../../ports/operator.ts';
import { holds } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

const asRecord = (row: typeof holds.$inferSelect): HoldRecord => row as HoldRecord;

/** The held jobs a hold covers, as SQL over delivery_jobs. */
function heldJobsOf(hold: Pick<HoldRecord, 'tenantId' | 'scope' | 'key'>): SQL {
  return hold.scope === 'tenant'
    ? sql`state = 'held' AND tenant_id = ${hold.tenantId}`
    : sql`state = 'held' AND tenant_id = ${hold.tenantId} AND sender_domain = ${hold.key}`;
}

export class LibsqlHolds {
  constructor(private readonly db: PostlaneDb) {}

  async openHold(row: HoldRecord): Promise<HoldRecord> {
    await this.db.insert(holds).values(row).onConflictDoNothing();
    const [open] = await this.db
      .select()
      .from(holds)
      .where(and(eq(holds.tenantId, row.tenantId), eq(holds.scope, row.scope), eq(holds.key, row.key), eq(holds.status, 'pending')));
    // Decided between the insert and the read: this send opens the next one.
    return open ? asRecord(open) : this.openHold(row);
  }

  async activeHolds(tenantId: string, decidedSince: number) {
    const rows = await this.db
      .select()
      .from(holds)
      .where(and(eq(holds.tenantId, tenantId), or(eq(holds.status, 'pending'), gte(holds.decidedAt, decidedSince))));
    return rows.map(asRecord);
  }

  async listHolds(tenantId: string, q: { status?: HoldStatus; before?: string; limit: number }) {
    const rows = await this.db
      .select()
      .from(holds)
      .where(and(eq(holds.tenantId, tenantId), q.status ? eq(holds.status, q.status) : undefined, q.before ? lt(holds.id, q.before) : undefined))
      .orderBy(desc(holds.id))
      .limit(q.limit);
    return rows.map(asRecord);
  }

  async getHold(tenantId: string, id: string) {
    const row = await this.db.query.holds.findFirst({ where: and(eq(holds.tenantId, tenantId), eq(holds.id, id)) });
    return row ? asRecord(row) : null;
  }

  async heldJobCounts(list: HoldRecord[]) {
    const out = new Map<string, number>();
    for (const h of list) {
      if (h.status !== 'pending') continue;
      const [row] = await this.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM delivery_jobs WHERE ${heldJobsOf(h)}`);
      out.set(h.id, Number(row?.n ?? 0));
    }
    return out;
  }

  async decideHold(d: HoldDecision) {
    const hold = await this.getHold(d.tenantId, d.id);
    if (hold?.status !== 'pending') return null;
    const jobs = heldJobsOf(hold);
    const regions = await this.db.all<{ region: string | null }>(sql`SELECT DISTINCT region FROM delivery_jobs WHERE ${jobs}`);
    // Every statement after the first applies only if the first did (this request decided it).
    const decided = sql`EXISTS (SELECT 1 FROM holds WHERE id = ${d.id} AND status = ${d.status} AND decided_at = ${d.now} AND decided_by = ${d.by})`;
    const type = d.status === 'approved' ? 'hold_approved' : 'hold_rejected';
    const data = sql`json_object('hold_id', ${d.id}, 'by_key', ${d.by}, 'reason', ${d.reason})`;
    const set = d.status === 'approved' ? sql`state = 'queued', next_attempt_at = max(next_attempt_at, ${d.now})` : sql`state = 'rejected', finished_at = ${d.now}`;
    const statements = [
      this.db
        .update(holds)
        .set({ status: d.status, decidedAt: d.now, decidedBy: d.by, decisionReason: d.reason })
        .where(and(eq(holds.id, d.id), eq(holds.status, 'pending'))),
      this.db.run(sql`INSERT INTO message_events (message_id, job_id, type, at, data) SELECT message_id, id, ${type}, ${d.now}, ${data} FROM delivery_jobs WHERE ${jobs} AND ${decided}`),
      this.db.run(sql`UPDATE delivery_jobs SET ${set}, updated_at = ${d.now} WHERE ${jobs} AND ${decided}`),
      // A tenant's decision covers its domains' held jobs too: their open holds close with it.
      ...(hold.scope === 'tenant'
        ? [
            this.db
              .update(holds)
              .set({ status: d.status, decidedAt: d.now, decidedBy: d.by, decisionReason: `decided with tenant hold ${d.id}` })
              .where(and(eq(holds.tenantId, d.tenantId), eq(holds.scope, 'domain'), eq(holds.status, 'pending'), sql`${decided}`)),
          ]
        : []),
    ];
    const results = await this.db.batch(statements as unknown as Parameters<PostlaneDb['batch']>[0]);
    const applied = (results[0] as { rowsAffected: number }).rowsAffected > 0;
    if (!applied) return null;
    const moved = (results[2] as { rowsAffected: number }).rowsAffected;
    const after = await this.getHold(d.tenantId, d.id);
    return { hold: after!, jobs: moved, regions: regions.map((r) => r.region) };
  }
}
