/**
 * Rollups of message events (edge/stats/rollup.ts): written in the same batch as the events
 * (`withRollups`), read by index — every query is a range over the primary key's leading
 * `minute` (or `tenant_id, minute`), never a scan of the events.
 */
import type { InStatement, InValue } from '@libsql/client';
import { sql, type SQL } from 'drizzle-orm';
import type { NewMessageEvent } from '../../ports/store.ts';
import type { CountGroup, CountKey, LatencyGroup, RollupDimension, RollupFilter, StatsStore } from '../../ports/stats.ts';
import { rollupDeltas, ROLLUP_EVENT_TYPES, type JobDimensions } from '../../stats/rollup.ts';
import { chunks, type PostlaneDb } from './db.ts';

const COLUMN: Record<RollupDimension | CountKey, string> = {
  tenantId: 'tenant_id',
  lane: 'lane',
  pool: 'pool',
  provider: 'provider',
  domain: 'domain',
  senderDomain: 'sender_domain',
  outcome: 'outcome',
  replyClass: 'reply_class',
  enhanced: 'enhanced',
  code: 'code',
};
const DIMS = ['tenant_id', 'lane', 'pool', 'provider', 'domain', 'sender_domain'];
const COUNT_COLUMNS = ['minute', ...DIMS, 'outcome', 'reply_class', 'enhanced', 'code'];
const LATENCY_COLUMNS = ['minute', ...DIMS, 'metric', 'bucket'];
/** Rows per upsert (11 values each, under SQLite's parameter bound). */
const UPSERT_CHUNK = 80;

function upserts(table: string, keyColumns: string[], rows: InValue[][]): InStatement[] {
  return chunks(rows, UPSERT_CHUNK).map((part) => ({
    sql: `INSERT INTO ${table} (${keyColumns.join(', ')}, count) VALUES ${part.map(() => `(${keyColumns.map(() => '?').join(',')},?)`).join(',')}
          ON CONFLICT (${keyColumns.join(', ')}) DO UPDATE SET count = count + excluded.count`,
    args: part.flat(),
  }));
}

/**
 * The rollup upserts these events add, to run in the events' own batch. Reads the jobs'
 * dimensions first: they are fixed at accept, so reading them outside the transaction is safe.
 */
export async function rollupStatements(db: PostlaneDb, events: readonly NewMessageEvent[]): Promise<InStatement[]> {
  const jobIds = [...new Set(events.filter((e) => e.jobId && ROLLUP_EVENT_TYPES.has(e.type)).map((e) => e.jobId!))];
  if (jobIds.length === 0) return [];
  const jobs = new Map<string, JobDimensions>();
  for (const part of chunks(jobIds, 500)) {
    const rs = await db.$client.execute({
      sql: `SELECT id, tenant_id, lane, pool, provider, domain, sender_domain, created_at FROM delivery_jobs WHERE id IN (${part.map(() => '?').join(',')})`,
      args: part,
    });
    for (const r of rs.rows) {
      jobs.set(String(r.id), { tenantId: String(r.tenant_id), lane: String(r.lane), pool: String(r.pool), provider: String(r.provider), domain: String(r.domain), senderDomain: String(r.sender_domain), createdAt: Number(r.created_at) });
    }
  }
  const { counts, latencies } = rollupDeltas(events, jobs);
  const totals = new Map<string, InValue[]>();
  for (const c of counts) {
    const k = [c.provider, c.pool, c.outcome, c.replyClass].join('\u0000');
    const t = totals.get(k);
    if (t) t[4] = Number(t[4]) + c.count;
    else totals.set(k, [c.provider, c.pool, c.outcome, c.replyClass, c.count]);
  }
  return [
    ...upserts('delivery_rollups', COUNT_COLUMNS, counts.map((c) => [c.minute, c.tenantId, c.lane, c.pool, c.provider, c.domain, c.senderDomain, c.outcome, c.replyClass, c.enhanced, c.code, c.count])),
    ...upserts('latency_rollups', LATENCY_COLUMNS, latencies.map((l) => [l.minute, l.tenantId, l.lane, l.pool, l.provider, l.domain, l.senderDomain, l.metric, l.bucket, l.count])),
    ...upserts('delivery_totals', ['provider', 'pool', 'outcome', 'reply_class'], [...totals.values()]),
  ];
}

function whereOf(f: RollupFilter): SQL {
  const parts: SQL[] = [sql`minute >= ${f.from}`, sql`minute < ${f.to}`];
  for (const key of ['tenantId', 'lane', 'pool', 'provider', 'domain', 'senderDomain'] as const) {
    const v = f[key];
    if (v !== undefined) parts.push(sql`${sql.raw(COLUMN[key])} = ${v}`);
  }
  return sql.join(parts, sql` AND `);
}

function bucketExpr(bucketMs: number | null): SQL {
  return bucketMs ? sql`(minute / ${sql.raw(String(Math.trunc(bucketMs)))}) * ${sql.raw(String(Math.trunc(bucketMs)))}` : sql`NULL`;
}

export class LibsqlRollups implements StatsStore {
  constructor(private readonly db: PostlaneDb) {}

  async rollupCounts(filter: RollupFilter, by: ReadonlyArray<RollupDimension | CountKey>, bucketMs: number | null): Promise<CountGroup[]> {
    const cols = by.map((k) => COLUMN[k]);
    const select = cols.length ? sql.raw(`, ${cols.join(', ')}`) : sql``;
    const group = sql.raw(['b', ...cols].join(', '));
    const rows = await this.db.all<Record<string, unknown>>(sql`
      SELECT ${bucketExpr(bucketMs)} AS b${select}, sum(count) AS n FROM delivery_rollups WHERE ${whereOf(filter)} GROUP BY ${group} ORDER BY b`);
    return rows.map((r) => ({
      bucketStart: r.b === null ? null : Number(r.b),
      keys: Object.fromEntries(by.map((k) => [k, k === 'code' ? Number(r[COLUMN[k]]) : String(r[COLUMN[k]])])),
      count: Number(r.n),
    }));
  }

  async rollupLatencies(filter: RollupFilter, by: readonly RollupDimension[], bucketMs: number | null): Promise<LatencyGroup[]> {
    const cols = by.map((k) => COLUMN[k]);
    const select = cols.length ? sql.raw(`, ${cols.join(', ')}`) : sql``;
    const group = sql.raw(['b', 'metric', 'bucket', ...cols].join(', '));
    const rows = await this.db.all<Record<string, unknown>>(sql`
      SELECT ${bucketExpr(bucketMs)} AS b, metric, bucket${select}, sum(count) AS n FROM latency_rollups WHERE ${whereOf(filter)} GROUP BY ${group} ORDER BY b`);
    return rows.map((r) => ({
      bucketStart: r.b === null ? null : Number(r.b),
      keys: Object.fromEntries(by.map((k) => [k, String(r[COLUMN[k]])])),
      metric: String(r.metric),
      bucket: Number(r.bucket),
      count: Number(r.n),
    }));
  }

  async exportEvents(tenantId: string | null, from: number, to: number, afterId: number, limit: number) {
    const rs = await this.db.$client.execute({
      sql: `SELECT e.id, e.message_id, e.job_id, m.tenant_id, e.type, e.at, e.data FROM message_events e JOIN messages m ON m.id = e.message_id
            WHERE e.id > ? AND e.at >= ? AND e.at < ? ${tenantId === null ? '' : 'AND m.tenant_id = ?'} ORDER BY e.id LIMIT ?`,
      args: tenantId === null ? [afterId, from, to, limit] : [afterId, from, to, tenantId, limit],
    });
    return rs.rows.map((r) => ({ id: Number(r.id), messageId: String(r.message_id), jobId: r.job_id === null ? null : String(r.job_id), tenantId: String(r.tenant_id), type: String(r.type), at: Number(r.at), data: r.data === null ? null : String(r.data) }));
  }

  async exportRollups(tenantId: string | null, from: number, to: number, afterRowid: number, limit: number) {
    const rs = await this.db.$client.execute({
      sql: `SELECT rowid, ${COUNT_COLUMNS.join(', ')}, count FROM delivery_rollups
            WHERE rowid > ? AND minute >= ? AND minute < ? ${tenantId === null ? '' : 'AND tenant_id = ?'} ORDER BY rowid LIMIT ?`,
      args: tenantId === null ? [afterRowid, from, to, limit] : [afterRowid, from, to, tenantId, limit],
    });
    return rs.rows.map((r) => ({
      rowid: Number(r.rowid),
      minute: Number(r.minute),
      tenantId: String(r.tenant_id),
      lane: String(r.lane),
      pool: String(r.pool),
      provider: String(r.provider),
      domain: String(r.domain),
      senderDomain: String(r.sender_domain),
      outcome: String(r.outcome),
      replyClass: String(r.reply_class),
      enhanced: String(r.enhanced),
      code: Number(r.code),
      count: Number(r.count),
    }));
  }

  async deliveryTotals() {
    const rs = await this.db.$client.execute('SELECT provider, pool, outcome, reply_class, count FROM delivery_totals ORDER BY provider, pool, outcome, reply_class');
    return rs.rows.map((r) => ({ provider: String(r.provider), pool: String(r.pool), outcome: String(r.outcome), replyClass: String(r.reply_class), count: Number(r.count) }));
  }
}
