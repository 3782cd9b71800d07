/**
 * Webhooks: endpoints, the outbox over message_events (a cursor row and the events after it)
 * and the per-endpoint delivery streams. The fan-out writes its deliveries and moves the cursor
 * in one batch (one transaction); every statement of it is guarded by the cursor still being
 * where the fan-out read it, so two edges fanning out at once cannot both write a range.
 */
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { InStatement, InValue } from '@libsql/client';
import type {
  DeliveryOutcome,
  EndpointHealth,
  NewWebhookDelivery,
  OutboxEvent,
  WebhookDeliveryRecord,
  WebhookEndpointPatch,
  WebhookEndpointRecord,
  WebhookStore,
} from '../../ports/webhooks.ts';
import { webhookCursor, webhookDeliveries, webhookEndpoints, type WebhookDeliveryRow, type WebhookEndpointRow } from '../schema.ts';
import { chunks, type PostlaneDb } from './db.ts';

// Compile time: the rows are the port's records, both ways.
type Assignable<From extends To, To> = [From, To];
export type WebhookRowsMatch = [
  Assignable<WebhookEndpointRow, WebhookEndpointRecord>,
  Assignable<WebhookEndpointRecord, WebhookEndpointRow>,
  Assignable<WebhookDeliveryRow, WebhookDeliveryRecord>,
  Assignable<WebhookDeliveryRecord, WebhookDeliveryRow>,
];

const CURSOR = 'fanout';
/** Rows per multi-row insert of the fan-out (8 parameters each). */
const FANOUT_CHUNK = 100;

export class LibsqlWebhooks implements WebhookStore {
  constructor(private readonly db: PostlaneDb) {}

  async createWebhookEndpoint(row: Omit<WebhookEndpointRecord, 'startEventId'>) {
    const [{ maxId }] = await this.db.all<{ maxId: number | null }>(sql`SELECT max(id) AS maxId FROM message_events`);
    const full = { ...row, startEventId: Number(maxId ?? 0) };
    await this.db.insert(webhookEndpoints).values(full);
    return full;
  }

  listWebhookEndpoints(tenantId: string) {
    return this.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.tenantId, tenantId)).orderBy(asc(webhookEndpoints.createdAt));
  }

  async getWebhookEndpoint(tenantId: string, id: string) {
    const [row] = await this.db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, id)));
    return row ?? null;
  }

  async updateWebhookEndpoint(tenantId: string, id: string, patch: WebhookEndpointPatch, now: number) {
    const { resetFailures, ...fields } = patch;
    const set: Partial<WebhookEndpointRow> = { ...fields, updatedAt: now };
    if (resetFailures) Object.assign(set, { consecutiveFailures: 0, failingSince: null, disabledReason: null, disabledAt: null });
    const [row] = await this.db
      .update(webhookEndpoints)
      .set(set)
      .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, id)))
      .returning();
    return row ?? null;
  }

  async deleteWebhookEndpoint(tenantId: string, id: string) {
    const out = await this.db.delete(webhookEndpoints).where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, id))).returning({ id: webhookEndpoints.id });
    if (out.length === 0) return false;
    await this.db.delete(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id));
    return true;
  }

  async rotateWebhookSecret(tenantId: string, id: string, secretEnc: string, previousExpiresAt: number, now: number) {
    const [row] = await this.db
      .update(webhookEndpoints)
      .set({ previousSecretEnc: sql`${webhookEndpoints.secretEnc}`, previousSecretExpiresAt: previousExpiresAt, secretEnc, updatedAt: now })
      .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, id)))
      .returning();
    return row ?? null;
  }

  activeWebhookEndpoints() {
    return this.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true));
  }

  async readOutbox(limit: number) {
    await this.db.insert(webhookCursor).values({ name: CURSOR, eventId: 0 }).onConflictDoNothing();
    const [{ eventId: cursor }] = await this.db.select({ eventId: webhookCursor.eventId }).from(webhookCursor).where(eq(webhookCursor.name, CURSOR));
    const rs = await this.db.$client.execute({
      sql: `SELECT e.id, e.message_id, e.job_id, e.type, e.at, e.data, m.tenant_id, m.lane, m.from_domain,
              (SELECT count(*) FROM message_events p WHERE p.message_id = e.message_id AND p.id <= e.id) AS idx
            FROM message_events e JOIN messages m ON m.id = e.message_id
            WHERE e.id > ? ORDER BY e.id LIMIT ?`,
      args: [cursor, limit],
    });
    const events: OutboxEvent[] = rs.rows.map((r) => ({
      id: Number(r.id),
      messageId: String(r.message_id),
      jobId: r.job_id === null ? null : String(r.job_id),
      type: String(r.type),
      at: Number(r.at),
      data: r.data === null ? null : String(r.data),
      tenantId: String(r.tenant_id),
      lane: String(r.lane),
      fromDomain: String(r.from_domain),
      messageEventIndex: Number(r.idx),
    }));
    return { cursor, events };
  }

  async fanOut(from: number, to: number, deliveries: NewWebhookDelivery[], now: number) {
    const guard = `(SELECT event_id FROM webhook_cursor WHERE name = '${CURSOR}') = ?`;
    const statements: InStatement[] = [];
    // Each endpoint's k-th new delivery gets next_sequence + k; next_sequence moves after all inserts.
    const offsets = new Map<string, number>();
    const rows = deliveries.map((d) => {
      const k = offsets.get(d.endpointId) ?? 0;
      offsets.set(d.endpointId, k + 1);
      return { d, k };
    });
    for (const part of chunks(rows, FANOUT_CHUNK)) {
      const args: InValue[] = [];
      const values = part.map(({ d, k }) => {
        const e = d.event;
        args.push(d.id, d.endpointId, e.tenantId, e.id, k, e.messageId, e.jobId, e.type, e.messageEventIndex, e.at, e.data);
        return '(?,?,?,?,?,?,?,?,?,?,?)';
      });
      statements.push({
        sql: `INSERT INTO webhook_deliveries (id, endpoint_id, tenant_id, event_id, sequence, message_id, job_id, type, message_event_index, at, data, state, attempts, next_attempt_at, created_at)
              SELECT v.column1, v.column2, v.column3, v.column4, (SELECT next_sequence FROM webhook_endpoints w WHERE w.id = v.column2) + v.column5,
                     v.column6, v.column7, v.column8, v.column9, v.column10, v.column11, 'pending', 0, ?, ?
              FROM (VALUES ${values.join(',')}) v WHERE ${guard}`,
        // Parameters in text order: the SELECT list's two, the VALUES', the guard's.
        args: [now, now, ...args, from],
      });
    }
    for (const [endpointId, n] of offsets) {
      statements.push({ sql: `UPDATE webhook_endpoints SET next_sequence = next_sequence + ? WHERE id = ? AND ${guard}`, args: [n, endpointId, from] });
    }
    statements.push({ sql: `UPDATE webhook_cursor SET event_id = ? WHERE name = '${CURSOR}' AND event_id = ?`, args: [to, from] });
    const results = await this.db.$client.batch(statements, 'write');
    return results.at(-1)!.rowsAffected === 1;
  }

  async dueWebhookDeliveries(endpointId: string, now: number, limit: number) {
    return this.db.all<WebhookDeliveryRecord>(sql`
      SELECT id, endpoint_id AS endpointId, tenant_id AS tenantId, event_id AS eventId, sequence, message_id AS messageId, job_id AS jobId, type,
             message_event_index AS messageEventIndex, at, data, state, attempts, next_attempt_at AS nextAttemptAt, first_attempt_at AS firstAttemptAt,
             last_status AS lastStatus, last_error AS lastError, finished_at AS finishedAt, created_at AS createdAt
      FROM webhook_deliveries d
      WHERE d.endpoint_id = ${endpointId} AND d.state = 'pending' AND d.next_attempt_at <= ${now}
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.message_id = d.message_id AND p.state = 'pending' AND p.sequence < d.sequence)
      ORDER BY d.sequence LIMIT ${limit}`);
  }

  async recordWebhookAttempt(d: WebhookDeliveryRecord, o: DeliveryOutcome): Promise<EndpointHealth> {
    const first = d.firstAttemptAt ?? o.at;
    const base = { attempts: d.attempts + 1, firstAttemptAt: first, lastStatus: o.status };
    const delivery = o.ok
      ? this.db.update(webhookDeliveries).set({ ...base, state: 'delivered', lastError: null, finishedAt: o.at })
      : o.nextAttemptAt === null
        ? this.db.update(webhookDeliveries).set({ ...base, state: 'dead', lastError: o.error, finishedAt: o.at })
        : this.db.update(webhookDeliveries).set({ ...base, lastError: o.error, nextAttemptAt: o.nextAttemptAt });
    const endpoint = this.db
      .update(webhookEndpoints)
      .set(
        o.ok
          ? { consecutiveFailures: 0, failingSince: null }
          : { consecutiveFailures: sql`${webhookEndpoints.consecutiveFailures} + 1`, failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${o.at})` },
      )
      .where(eq(webhookEndpoints.id, d.endpointId))
      .returning({ consecutiveFailures: webhookEndpoints.consecutiveFailures, failingSince: webhookEndpoints.failingSince });
    const [, health] = await this.db.batch([delivery.where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.state, 'pending'))), endpoint]);
    return health[0] ?? { consecutiveFailures: 0, failingSince: null };
  }

  /** Disabled for failing: what it still had pending becomes dead letters (replayable once it is enabled again). */
  async disableWebhookEndpoint(id: string, reason: string, now: number) {
    await this.db.batch([
      this.db.update(webhookEndpoints).set({ enabled: false, disabledReason: reason, disabledAt: now, updatedAt: now }).where(eq(webhookEndpoints.id, id)),
      this.db
        .update(webhookDeliveries)
        .set({ state: 'dead', finishedAt: now, lastError: sql`coalesce(${webhookDeliveries.lastError}, 'endpoint disabled')` })
        .where(and(eq(webhookDeliveries.endpointId, id), eq(webhookDeliveries.state, 'pending'))),
    ]);
  }

  listDeadLetters(tenantId: string, endpointId: string, limit: number, before?: number) {
    const where = [eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.state, 'dead')];
    if (before !== undefined) where.push(sql`${webhookDeliveries.finishedAt} < ${before}`);
    return this.db.select().from(webhookDeliveries).where(and(...where)).orderBy(desc(webhookDeliveries.finishedAt), desc(webhookDeliveries.sequence)).limit(limit);
  }

  async replayDeadLetters(tenantId: string, endpointId: string, which: { id: string } | { since: number }, now: number) {
    const where = [eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.state, 'dead')];
    where.push('id' in which ? eq(webhookDeliveries.id, which.id) : sql`${webhookDeliveries.finishedAt} >= ${which.since}`);
    const out = await this.db
      .update(webhookDeliveries)
      .set({ state: 'pending', attempts: 0, firstAttemptAt: null, nextAttemptAt: now, finishedAt: null })
      .where(and(...where))
      .returning({ id: webhookDeliveries.id });
    return out.length;
  }

  webhookDeliveries(endpointId: string, limit: number) {
    return this.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId)).orderBy(asc(webhookDeliveries.sequence)).limit(limit);
  }
}
