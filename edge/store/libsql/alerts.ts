/**
 * The alert rules and log. Raising and resolving an alert queue its webhook event in the same
 * batch: one delivery per enabled endpoint of the tenant that subscribed to the type, numbered
 * with the endpoint stream's next sequence (as the fan-out does). Alert deliveries are keyed as
 * message `alert_<id>` with event index 1 (raised) and 2 (resolved), so a receiver gets the
 * raise first, and with a negative event id, which no message event has.
 */
import type { InStatement } from '@libsql/client';
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { AlertQuery, AlertRecord, AlertStore, AlertWebhookEvent, NewAlert } from '../../ports/stats.ts';
import { alertRules, alerts } from '../schema.ts';
import type { PostlaneDb } from './db.ts';

export function alertMessageId(id: number): string {
  return `alert_${id}`;
}

function deliveryStatements(alertId: number, index: 1 | 2, event: AlertWebhookEvent): InStatement[] {
  const subscribed = `w.tenant_id = ? AND w.enabled = 1 AND EXISTS (SELECT 1 FROM json_each(w.event_types) t WHERE t.value = ?)`;
  return [
    {
      sql: `INSERT INTO webhook_deliveries (id, endpoint_id, tenant_id, event_id, sequence, message_id, job_id, type, message_event_index, at, data, state, attempts, next_attempt_at, created_at)
            SELECT 'wha_' || ? || '_' || w.id, w.id, w.tenant_id, ?, w.next_sequence, ?, NULL, ?, ?, ?, ?, 'pending', 0, ?, ?
            FROM webhook_endpoints w WHERE ${subscribed}`,
      args: [`${alertId}_${index}`, -(alertId * 2 + index - 1), alertMessageId(alertId), event.type, index, event.at, JSON.stringify(event.data), event.at, event.at, event.tenantId, event.type],
    },
    { sql: `UPDATE webhook_endpoints AS w SET next_sequence = next_sequence + 1 WHERE ${subscribed}`, args: [event.tenantId, event.type] },
  ];
}

export class LibsqlAlerts implements AlertStore {
  constructor(private readonly db: PostlaneDb) {}

  alertRuleSettings() {
    return this.db.select().from(alertRules);
  }

  async putAlertRuleSettings(id: string, settings: Record<string, unknown>, now: number) {
    await this.db.insert(alertRules).values({ id, settings, updatedAt: now }).onConflictDoUpdate({ target: alertRules.id, set: { settings, updatedAt: now } });
  }

  openAlerts() {
    return this.db.select().from(alerts).where(eq(alerts.state, 'open')).orderBy(desc(alerts.id));
  }

  listAlerts(q: AlertQuery) {
    const where: SQL[] = [];
    if (q.state) where.push(eq(alerts.state, q.state));
    if (q.tenantId !== undefined) where.push(eq(alerts.tenantId, q.tenantId));
    if (q.before !== undefined) where.push(lt(alerts.id, q.before));
    return this.db.select().from(alerts).where(and(...where)).orderBy(desc(alerts.id)).limit(q.limit);
  }

  async raiseAlert(alert: NewAlert, event: Omit<AlertWebhookEvent, 'data'>, data: (a: AlertRecord) => Record<string, unknown>) {
    // The unique open (rule, subject) index de-duplicates: a second raise inserts nothing.
    const [row] = await this.db
      .insert(alerts)
      .values({ ...alert, state: 'open' })
      .onConflictDoNothing()
      .returning();
    if (!row) return null;
    // A crash between the two batches leaves an open alert without its webhook: the next
    // evaluation keeps it open and does not re-send, which is the lesser failure.
    const statements = deliveryStatements(row.id, 1, { ...event, data: data(row) });
    await this.db.$client.batch(statements, 'write');
    return row;
  }

  async resolveAlert(id: number, numbers: Record<string, unknown>, now: number, event: Omit<AlertWebhookEvent, 'data'>, data: (a: AlertRecord) => Record<string, unknown>) {
    const [row] = await this.db
      .update(alerts)
      .set({ state: 'resolved', resolvedNumbers: numbers, resolvedAt: now })
      .where(and(eq(alerts.id, id), eq(alerts.state, 'open')))
      .returning();
    if (!row) return null;
    await this.db.$client.batch(deliveryStatements(row.id, 2, { ...event, data: data(row) }), 'write');
    return row;
  }

  async failingWebhookEndpoints(minFailures: number) {
    const rs = await this.db.$client.execute({
      sql: `SELECT id, tenant_id, url, consecutive_failures, failing_since, disabled_reason FROM webhook_endpoints
            WHERE consecutive_failures >= ? OR (enabled = 0 AND disabled_reason IS NOT NULL)`,
      args: [minFailures],
    });
    return rs.rows.map((r) => ({
      id: String(r.id),
      tenantId: String(r.tenant_id),
      url: String(r.url),
      consecutiveFailures: Number(r.consecutive_failures),
      failingSince: r.failing_since === null ? null : Number(r.failing_since),
      disabledReason: r.disabled_reason === null ? null : String(r.disabled_reason),
    }));
  }
}
