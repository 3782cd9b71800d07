/**
 * The trace log: one structured line per message state change, written from the outbox
 * (message_events in commit order) right after the fan-out moved the cursor past it. So a line
 * means the change is committed, each change is logged once however many edges read the outbox
 * (only the one whose cursor update won logs), and no accept or hub path needs its own log call.
 *
 * Every line carries the correlation ids an operator searches by (message, job, tenant, and for
 * attempts the node, IP and MX) and the `reason` the event gives, under fixed keys.
 */
import type { Logger } from '../logger.ts';
import type { OutboxEvent } from '../ports/webhooks.ts';

/** Event data fields lifted onto the line as correlation ids and the why, under these keys. */
const LIFTED = {
  node: 'node',
  lease_id: 'lease',
  ip: 'ip',
  mx: 'mx',
  reply: 'reply',
  reason: 'reason',
  next_attempt_at: 'next_attempt_at',
  attempt: 'attempt',
  class: 'class',
  pool: 'pool',
  provider: 'provider',
} as const;

export function traceLine(ev: OutboxEvent): Record<string, unknown> {
  const line: Record<string, unknown> = { event: ev.type, message: ev.messageId, job: ev.jobId, tenant: ev.tenantId, lane: ev.lane, index: ev.messageEventIndex, at: new Date(ev.at).toISOString() };
  if (ev.data) {
    let data: Record<string, unknown> | null = null;
    try {
      data = JSON.parse(ev.data) as Record<string, unknown>;
    } catch {}
    for (const [field, key] of Object.entries(LIFTED)) {
      const v = data?.[field];
      if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) line[key] = v;
    }
  }
  return line;
}

export function logTrace(logger: Logger, events: readonly OutboxEvent[]): void {
  for (const ev of events) logger.info(traceLine(ev), `message ${ev.type}`);
}
