/**
 * Cancel and reschedule of accepted mail, for `/v1/messages/{id}` and the Resend-compatible
 * `/emails/{id}`. Only while no job of the message has been leased or tried: the store's guarded
 * write decides (edge/store/libsql/schedule.ts), so a message the hub is leasing at this moment
 * is either changed whole or answered 409, never half-canceled.
 */
import type { AppDeps } from '../ports/app.ts';
import type { MessageWithTrace } from '../ports/store.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { messageEvent } from '../../shared/events/index.ts';

export interface ScheduleResult {
  id: string;
  status: 'canceled' | 'scheduled';
  recipients: number;
  send_at?: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

async function findMessage(deps: AppDeps, tenantId: string, id: string): Promise<MessageWithTrace> {
  const found = await deps.store.getMessage(tenantId, id);
  if (!found) throw new ApiError('not_found', `no message ${id}`, { field: 'id', reason: 'unknown id' });
  return found;
}

/** Why the message can no longer change, or null while every job waits untried. */
function tooLate(id: string, jobs: Array<{ state: string; attempts: number }>, action: string): ApiError | null {
  const states = [...new Set(jobs.map((j) => j.state))];
  const started = jobs.some((j) => (j.state !== 'queued' && j.state !== 'suppressed') || j.attempts > 0);
  if (started) {
    return new ApiError('conflict', `message ${id} cannot be ${action}: delivery has started (job states: ${states.join(', ')})`, { field: 'id', reason: 'already leased', states });
  }
  if (!jobs.some((j) => j.state === 'queued')) {
    return new ApiError('conflict', `message ${id} cannot be ${action}: none of its recipients is queued (job states: ${states.join(', ')})`, { field: 'id', reason: 'nothing queued', states });
  }
  return null;
}

export async function cancelMessage(deps: AppDeps, tenantId: string, id: string): Promise<ScheduleResult> {
  const { message, jobs } = await findMessage(deps, tenantId, id);
  const refusal = tooLate(id, jobs, 'canceled');
  if (refusal) throw refusal;
  const now = deps.now?.() ?? Date.now();
  const queued = jobs.filter((j) => j.state === 'queued').length;
  const event = messageEvent('canceled', { messageId: id, jobId: null, at: now, data: { recipients: queued, send_at: iso(message.sendAt) } });
  const outcome = await deps.store.changeSchedule({ tenantId, messageId: id, now, action: { kind: 'cancel' }, event });
  if (outcome.kind === 'not_found') throw new ApiError('not_found', `no message ${id}`, { field: 'id', reason: 'unknown id' });
  if (outcome.kind === 'too_late') throw tooLate(id, outcome.states.map((state) => ({ state, attempts: 1 })), 'canceled')!;
  deps.metrics.inc('postlane_messages_canceled_total', { lane: message.lane });
  return { id, status: 'canceled', recipients: outcome.recipients };
}

/**
 * Moves the send time; `sendAt` is checked after the lookup, so a caller learns nothing about
 * another tenant's message from the validation order.
 */
export async function rescheduleMessage(deps: AppDeps, tenantId: string, id: string, sendAt: string | undefined, field: string): Promise<ScheduleResult> {
  const { message, jobs } = await findMessage(deps, tenantId, id);
  if (sendAt === undefined) throw invalid(field, 'required: the new send time (ISO 8601 with offset)');
  const at = Date.parse(sendAt);
  if (!Number.isFinite(at)) throw invalid(field, 'not an ISO 8601 date-time');
  const refusal = tooLate(id, jobs, 'rescheduled');
  if (refusal) throw refusal;
  const now = deps.now?.() ?? Date.now();
  const queued = jobs.filter((j) => j.state === 'queued');
  const event = messageEvent('rescheduled', {
    messageId: id,
    jobId: null,
    at: now,
    data: { send_at: new Date(at).toISOString(), previous_send_at: iso(message.sendAt), recipients: queued.length },
  });
  const outcome = await deps.store.changeSchedule({ tenantId, messageId: id, now, action: { kind: 'reschedule', sendAt: at }, event });
  if (outcome.kind === 'not_found') throw new ApiError('not_found', `no message ${id}`, { field: 'id', reason: 'unknown id' });
  if (outcome.kind === 'too_late') throw tooLate(id, outcome.states.map((state) => ({ state, attempts: 1 })), 'rescheduled')!;
  // Moved earlier (or to now): the hub may be idle until its next tick otherwise.
  for (const region of new Set(queued.map((j) => j.region))) deps.hub.notifyWork(region);
  return { id, status: 'scheduled', recipients: outcome.recipients, send_at: new Date(at).toISOString() };
}
