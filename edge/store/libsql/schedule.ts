/**
 * Cancel and reschedule of a message that no node has touched yet. One write batch (one
 * transaction on every libSQL transport): the guarded UPDATE decides, and the statements after
 * it apply only if it changed rows (SQLite's `changes()` is the count of the statement before),
 * so a claim that leased a job first makes the whole change a no-op rather than a half-cancel.
 */
import type { InStatement } from '@libsql/client';
import type { ScheduleChange, ScheduleOutcome } from '../../ports/store.ts';
import type { PostlaneDb } from './db.ts';

/** Every job still waiting and never tried: suppressed ones never will be, so they do not block. */
const UNTOUCHED = `NOT EXISTS (SELECT 1 FROM delivery_jobs o WHERE o.message_id = ? AND (o.state NOT IN ('queued', 'suppressed') OR o.attempts > 0))`;

export class LibsqlSchedule {
  constructor(private readonly db: PostlaneDb) {}

  async changeSchedule(change: ScheduleChange): Promise<ScheduleOutcome> {
    const { tenantId, messageId, now, action, event } = change;
    const guard = [messageId, tenantId, messageId];
    const statements: InStatement[] =
      action.kind === 'cancel'
        ? [
            {
              sql: `UPDATE delivery_jobs SET state = 'canceled', finished_at = ?, updated_at = ? WHERE message_id = ? AND tenant_id = ? AND state = 'queued' AND ${UNTOUCHED}`,
              args: [now, now, ...guard],
            },
          ]
        : [
            {
              sql: `UPDATE delivery_jobs SET next_attempt_at = ?, updated_at = ? WHERE message_id = ? AND tenant_id = ? AND state = 'queued' AND ${UNTOUCHED}`,
              args: [Math.max(action.sendAt, now), now, ...guard],
            },
            { sql: 'UPDATE messages SET send_at = ? WHERE id = ? AND tenant_id = ? AND changes() > 0', args: [action.sendAt, messageId, tenantId] },
          ];
    statements.push({
      sql: 'INSERT INTO message_events (message_id, job_id, type, at, data) SELECT ?, ?, ?, ?, ? WHERE changes() > 0',
      args: [event.messageId, event.jobId, event.type, event.at, event.data === null ? null : JSON.stringify(event.data)],
    });
    const results = await this.db.$client.batch(statements, 'write');
    const changed = results[0].rowsAffected;
    if (changed > 0) return { kind: 'applied', recipients: changed };
    const states = await this.db.$client.execute({ sql: 'SELECT state FROM delivery_jobs WHERE message_id = ? AND tenant_id = ?', args: [messageId, tenantId] });
    if (states.rows.length === 0) return { kind: 'not_found' };
    return { kind: 'too_late', states: [...new Set(states.rows.map((r) => String(r.state)))] };
  }
}
