/**
 * The suppression list at accept (SPEC §5, "checked before queueing"): a recipient on the
 * tenant's list gets no delivery job to send. Its job row is still written, in state
 * `suppressed` with an event saying since when and why, so the message's trace and the 202
 * answer for every recipient; the other recipients are queued as usual.
 */
import type { AppDeps } from '../ports/app.ts';
import type { NewMessage } from '../ports/store.ts';
import type { SuppressionRecord } from '../domain/records.ts';
import { messageEvent, type MessageEventData } from '../../shared/events/index.ts';

export interface SuppressedAtAccept {
  address: string;
  reason: string;
}

/** Marks the jobs of listed recipients `suppressed` in place; returns what it marked. */
export async function applySuppressions(deps: AppDeps, tenantId: string, items: NewMessage[], now: number): Promise<SuppressedAtAccept[]> {
  const addresses = [...new Set(items.flatMap((i) => i.jobs.map((j) => j.recipient.toLowerCase())))];
  const rows = await deps.store.findSuppressions(tenantId, addresses);
  if (rows.length === 0) return [];
  const listed = new Map(rows.map((r) => [r.address, r]));
  const out: SuppressedAtAccept[] = [];
  for (const item of items) {
    for (const job of item.jobs) {
      const hit = listed.get(job.recipient.toLowerCase());
      if (!hit) continue;
      job.state = 'suppressed';
      job.finishedAt = now;
      job.lastClass = 'suppressed';
      job.lastReply = `on the suppression list: ${hit.reason}`;
      item.events.push(messageEvent('suppressed', { messageId: job.messageId, jobId: job.id, at: now, data: suppressedEvent(hit) }));
      out.push({ address: job.recipient, reason: hit.reason });
    }
  }
  return out;
}

function suppressedEvent(row: SuppressionRecord): MessageEventData<'suppressed'> {
  return {
    recipient: row.address,
    reason: `on the tenant's suppression list (${row.reason}) since ${new Date(row.createdAt).toISOString()}; not queued`,
    suppression_reason: row.reason,
    listed_at: new Date(row.createdAt).toISOString(),
    source: row.source ?? undefined,
    listed_by_message: row.messageId ?? undefined,
  };
}

export function suppressionView(r: SuppressionRecord) {
  return {
    address: r.address,
    reason: r.reason as 'hard_bounce' | 'complaint' | 'unsubscribe' | 'manual',
    source: r.source,
    message_id: r.messageId,
    job_id: r.jobId,
    created_at: new Date(r.createdAt).toISOString(),
  };
}
