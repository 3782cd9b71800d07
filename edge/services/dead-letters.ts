/**
 * The dead-letter queue (SPEC §7): jobs whose retries are spent or that were refused for good,
 * each with its reason chain and retry history from its trace, content redacted unless an admin
 * gives a reason (audited); and replay with new constraints as new messages whose jobs carry a
 * unique replay key, so a replay twice sends once. Suppressed recipients are refused unless forced
 * with a reason (audited).
 */
import type { z } from '@hono/zod-openapi';
import type { AppDeps } from '../ports/app.ts';
import type { Caller } from '../context.ts';
import { freshJobState, type DeliveryJobRecord, type MessageRecord } from '../domain/records.ts';
import { replayKeyOf, type DeadLetterQuery, type DeadLetterRecord, type ReplayDraft } from '../ports/operator.ts';
import type { DeadLetterFilter, DeadLetterSchema, ReplayRequest } from '../../shared/api-operator.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { messageEvent } from '../../shared/events/index.ts';
import { actorOf, auditRow, recordAudit } from './audit.ts';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
/** Trace entries that are attempts, or the end of one. */
const HISTORY = new Set(['leased', 'deferred', 'bounced', 'failed', 'lease_expired', 'lease_released', 'throttled', 'delivered']);

export function queryOf(f: DeadLetterFilter): Omit<DeadLetterQuery, 'limit'> {
  return {
    reasonClass: f.reason_class,
    provider: f.provider,
    domain: f.domain,
    senderDomain: f.sender_domain,
    pool: f.pool,
    lane: f.lane,
    since: f.since ? Date.parse(f.since) : undefined,
    until: f.until ? Date.parse(f.until) : undefined,
    replayed: f.replayed === undefined ? undefined : f.replayed === 'true',
  };
}

function reasonOf(type: string, data: Record<string, unknown>): string {
  if (type === 'failed') return `retries spent after ${data.attempts} attempts: ${data.reason}`;
  const reply = typeof data.reply === 'string' ? data.reply : '';
  const cls = data.class ? ` (${data.class}${data.rule ? `, ${data.rule}` : ''})` : '';
  if (type === 'deferred') return `attempt ${data.attempt}: deferred ${reply}${cls}`;
  if (type === 'bounced') return `attempt ${data.attempt ?? '-'}: refused for good ${reply}${cls}`;
  return String(data.reason ?? type);
}

export function deadLetterView(r: DeadLetterRecord, raw: string | null): z.infer<typeof DeadLetterSchema> {
  const events = r.events.filter((e) => e.jobId === r.job.id);
  const [headers, ...body] = raw === null ? [] : raw.split('\r\n\r\n');
  return {
    job_id: r.job.id,
    message_id: r.message.id,
    recipient: r.job.recipient,
    state: r.job.state as 'failed' | 'bounced',
    reason_class: r.job.lastClass,
    last_reply: r.job.lastReply,
    provider: r.job.provider,
    domain: r.job.domain,
    sender_domain: r.job.senderDomain,
    pool: r.job.pool,
    lane: r.job.lane,
    attempts: r.job.attempts,
    accepted_at: new Date(r.message.createdAt).toISOString(),
    dead_at: iso(r.job.finishedAt),
    reason_chain: events
      .filter((e) => e.type === 'deferred' || e.type === 'bounced' || e.type === 'failed' || e.type === 'lease_expired')
      .map((e) => ({ at: new Date(e.at).toISOString(), type: e.type, reason: reasonOf(e.type, e.data ?? {}) })),
    retry_history: events.filter((e) => HISTORY.has(e.type)).map((e) => ({ seq: e.id, type: e.type as never, at: new Date(e.at).toISOString(), job_id: e.jobId, data: e.data })),
    replayed_by: r.replayJobId,
    content:
      raw === null
        ? { redacted: true as const, size_bytes: r.message.sizeBytes }
        : { redacted: false as const, subject: r.message.subject, from: r.message.fromAddress, headers: headers ?? '', body: body.join('\r\n\r\n') },
  };
}

/** A page of dead letters; with `reason` (admin only) their content is shown and each reveal audited. */
export async function listDeadLetters(deps: AppDeps, caller: Caller, q: DeadLetterFilter & { limit: number; cursor?: string; reason?: string }) {
  if (q.reason !== undefined && !caller.scopes.includes('admin')) {
    throw new ApiError('forbidden', 'showing dead-letter content needs an admin key (and a reason, which is audited)', { scope: 'admin' });
  }
  const rows = await deps.store.listDeadJobs(caller.tenantId, { ...queryOf(q), after: q.cursor, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  const raws = new Map<string, string | null>();
  if (q.reason !== undefined) {
    for (const id of new Set(page.map((r) => r.message.id))) raws.set(id, await deps.store.messageRaw(caller.tenantId, id));
    const now = deps.now?.() ?? Date.now();
    await deps.store.appendAudit(
      page.map((r) =>
        auditRow({ actor: actorOf(caller), action: 'dead_letter.reveal', target: { kind: 'dead_letter', id: r.job.id }, before: null, after: { message_id: r.message.id }, reason: q.reason }, now),
      ),
    );
  }
  const hasMore = rows.length > q.limit;
  return { data: page.map((r) => deadLetterView(r, raws.get(r.message.id) ?? null)), next_cursor: hasMore ? page.at(-1)!.job.id : null, has_more: hasMore };
}

export async function replayDeadLetters(deps: AppDeps, caller: Caller, req: ReplayRequest) {
  if (!req.ids && !req.filter) throw invalid('ids', 'name the dead letters to replay: ids, or a filter');
  if (req.force && !req.reason) throw invalid('reason', 'a forced replay to suppressed recipients needs a reason (it is audited)');
  if (req.force && !caller.scopes.includes('admin')) throw new ApiError('forbidden', 'a forced replay needs an admin key', { scope: 'admin' });
  const now = deps.now?.() ?? Date.now();
  if (req.pool) {
    const pool = (await deps.store.knownPools()).find((p) => p.name === req.pool);
    if (!pool || (pool.tenantId !== null && pool.tenantId !== caller.tenantId)) throw invalid('pool', `unknown pool "${req.pool}"`);
  }
  const targets = req.ids
    ? await deps.store.deadJobsByIds(caller.tenantId, req.ids)
    : (await deps.store.listDeadJobs(caller.tenantId, { ...queryOf(req.filter!), replayed: false, limit: req.limit })).reverse();
  const found = new Set(targets.map((t) => t.job.id));
  const notFound = (req.ids ?? []).filter((id) => !found.has(id));

  const listed = new Map((await deps.store.findSuppressions(caller.tenantId, [...new Set(targets.map((t) => t.job.recipient.toLowerCase()))])).map((s) => [s.address, s]));
  const refused: Array<{ original_job_id: string; recipient: string; reason: string }> = [];
  const sendable = targets.filter((t) => {
    const s = listed.get(t.job.recipient.toLowerCase());
    if (!s || req.force) return true;
    refused.push({ original_job_id: t.job.id, recipient: t.job.recipient, reason: `on the suppression list (${s.reason}); replay with force and a reason` });
    return false;
  });

  const drafts: ReplayDraft[] = [];
  const byMessage = new Map<string, DeadLetterRecord[]>();
  for (const t of sendable) byMessage.set(t.message.id, [...(byMessage.get(t.message.id) ?? []), t]);
  for (const [messageId, jobs] of byMessage) {
    const original = await deps.store.getMessage(caller.tenantId, messageId);
    if (original) drafts.push(draftOf(original.message, jobs.map((j) => j.job), req, caller, now));
  }
  const outcome = await deps.store.replayJobs(caller.tenantId, drafts);
  deps.metrics.inc('postlane_dead_letters_replayed_total', {}, outcome.replayed.length);
  const forced = outcome.replayed.filter((r) => listed.has(targets.find((t) => t.job.id === r.originalJobId)!.job.recipient.toLowerCase()));
  for (const r of forced) {
    await recordAudit(deps, {
      actor: actorOf(caller),
      action: 'dead_letter.replay_forced',
      target: { kind: 'dead_letter', id: r.originalJobId },
      before: { suppressed: true },
      after: { replay_job: r.jobId },
      reason: req.reason!,
    });
  }
  deps.logger.info({ tenant: caller.tenantId, key: caller.keyId, replayed: outcome.replayed.length, already: outcome.already.length, refused: refused.length, forced: forced.length }, 'dead letters replayed');
  for (const region of new Set(drafts.flatMap((d) => d.jobs.map((j) => j.region)))) deps.hub.notifyWork(region);
  return {
    replayed: outcome.replayed.map((r) => ({ original_job_id: r.originalJobId, job_id: r.jobId, message_id: r.messageId })),
    already_replayed: outcome.already.map((a) => ({ original_job_id: a.originalJobId, job_id: a.jobId })),
    refused,
    not_found: notFound,
  };
}

/** The replay of one original message: the same content as a new message, with the new constraints. */
function draftOf(original: MessageRecord, jobs: DeliveryJobRecord[], req: ReplayRequest, caller: Caller, now: number): ReplayDraft {
  const id = newId('msg', now);
  const lane = req.lane ?? original.lane;
  const pool = req.pool ?? original.pool;
  const constraints = { ...(original.constraints ?? {}), ...(req.region !== undefined ? { region: req.region ?? undefined } : {}), ...(req.send_window ? { send_window: req.send_window } : {}) };
  const message: MessageRecord = { ...original, id, lane, pool, constraints, sendAt: null, createdAt: now };
  const newJobs = jobs.map((j) => ({
    ...j,
    id: newId('job', now),
    messageId: id,
    pool: req.pool ?? j.pool,
    lane,
    region: req.region !== undefined ? req.region : j.region,
    // The replay key: unique in the store, so this original is replayed once.
    dedupKey: replayKeyOf(j.id),
    ...freshJobState(now, now),
    originalJobId: j.id,
  }));
  const forced = req.force ?? false;
  const events = newJobs.flatMap((j) => [
    messageEvent('replay_of', { messageId: id, jobId: j.id, at: now, data: { original_message: original.id, original_job: j.originalJobId, recipient: j.recipient, pool: j.pool, lane } }),
    messageEvent('replayed', {
      messageId: original.id,
      jobId: j.originalJobId,
      at: now,
      data: { replay_message: id, replay_job: j.id, by_key: caller.keyId, pool: j.pool, lane, forced, reason: req.reason ?? null },
    }),
  ]);
  return { message, jobs: newJobs, events };
}
