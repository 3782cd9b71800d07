/**
 * Feedback intake (SPEC §5): a raw report from `POST /v1/inbound` is parsed (shared/feedback.ts),
 * tied to one delivery job, and acted on:
 *
 * - ARF complaint (RFC 5965, Feedback-Type abuse/fraud/virus): the recipient is suppressed
 *   (reason complaint), a `complained` event joins the message's trace, and the hub's breakers
 *   count it for the job's pool and sender domain (and the outreach complaint pause);
 * - DSN (RFC 3464) with Action failed and a 5.x.x Status: a hard bounce (by the reply classifier)
 *   suppresses; a job already `delivered` becomes `bounced` (an asynchronous bounce) and the
 *   breakers count the bounce;
 * - anything else is recorded on the job when it matches, and answered `matched: false` with the
 *   reason when it does not. A report is never a 500: only the store being down is (503).
 *
 * The tenant is the matched job's, never the report's: a key of the operator tenant may match
 * any tenant's job (the MX of the VERP domain serves them all); any other key only its own.
 */
import type { AppDeps } from '../ports/app.ts';
import type { FeedbackSignal, OutreachPauseRule } from '../ports/lease-hub.ts';
import type { DeliveryJobRecord } from '../domain/records.ts';
import type { InboundResult } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import { parseFeedback, type ArfReport, type DsnRecipient, type DsnReport, type ParsedFeedback } from '../../shared/feedback.ts';
import { jobIdFromVerp } from '../../shared/verp.ts';
import { parseSmtpReply, formatSmtpReply } from '../../shared/smtp-reply.ts';
import { classifierFor, classifyReply } from '../../shared/policy/classifier.ts';
import { resolvePolicy } from '../../shared/policy/defaults.ts';
import { tenantDocument } from './policy.ts';
import { OPERATOR_TENANT } from './tenancy.ts';
import { hardBounceSuppression } from '../hub/transitions.ts';
import { messageEvent, type MessageEventType } from '../../shared/events/index.ts';

interface Caller {
  tenantId: string;
  keyId: string;
}

interface Match {
  job: DeliveryJobRecord;
  messageIdHeader: string | null;
  via: 'verp' | 'message_id';
}

const COMPLAINT_EVENT = 'complained' satisfies MessageEventType;

function reportSummary(parsed: ParsedFeedback): Record<string, unknown> {
  const r = parsed.report;
  const base = { type: r.kind, report_message_id: parsed.reportMessageId, original_message_id: r.original?.messageId ?? null };
  if (r.kind === 'arf') return { ...base, feedback_type: r.feedbackType, user_agent: r.userAgent, reporting_mta: r.reportingMta, source_ip: r.sourceIp, arrival_date: r.arrivalDate };
  if (r.kind === 'dsn') return { ...base, reporting_mta: r.reportingMta, recipients: r.recipients.map((x) => ({ final_recipient: x.finalRecipient, action: x.action, status: x.status })) };
  return base;
}

/** Ties a report to a job: the VERP address first (it names the job), else the original Message-ID. */
async function matchJob(deps: AppDeps, caller: Caller, parsed: ParsedFeedback, envelopeTo: string | null, recipients: string[]): Promise<Match | { reason: string }> {
  const mayRead = (tenantId: string) => caller.tenantId === OPERATOR_TENANT || caller.tenantId === tenantId;
  const verps = [...new Set([envelopeTo, ...parsed.verpCandidates].filter((a): a is string => Boolean(a)))];
  for (const address of verps) {
    const jobId = jobIdFromVerp(address);
    if (!jobId) continue;
    const [job] = await deps.store.jobsByIds([jobId]);
    if (job && mayRead(job.tenantId)) return { job, messageIdHeader: null, via: 'verp' };
  }
  // Our Message-ID is `<msg id@from domain>` (edge/services/accept.ts): its left part is the key.
  const original = parsed.report.original?.messageId ?? null;
  const messageId = original ? /^<([a-z]+_[0-9a-z]{10,64})@/i.exec(original)?.[1] : undefined;
  if (!original || !messageId) {
    return { reason: verps.length ? `no job of ours has the VERP address ${verps.join(', ')}, and the report carries none of our Message-IDs` : 'the report carries no VERP address and no Message-ID of ours' };
  }
  const found = await deps.store.findMessageJobs(messageId.toLowerCase());
  if (!found || !mayRead(found.message.tenantId) || found.message.messageIdHeader.toLowerCase() !== original.toLowerCase()) {
    return { reason: `no message of ${caller.tenantId === OPERATOR_TENANT ? 'any tenant' : 'this tenant'} has Message-ID ${original}` };
  }
  const wanted = new Set(recipients.map((r) => r.toLowerCase()));
  const job = found.jobs.find((j) => wanted.has(j.recipient.toLowerCase())) ?? (found.jobs.length === 1 ? found.jobs[0] : undefined);
  if (!job) return { reason: `message ${found.message.id} has ${found.jobs.length} recipients and the report names none of them (recipients may be redacted)` };
  return { job, messageIdHeader: found.message.messageIdHeader, via: 'message_id' };
}

/** The outreach pause thresholds of the job's tenant and sender domain, from its policy document. */
async function outreachRules(deps: AppDeps, job: DeliveryJobRecord, now: number): Promise<FeedbackSignal['outreach']> {
  if (job.lane !== 'outreach') return undefined;
  const doc = await tenantDocument(deps, job.tenantId, now);
  // A lane without guard-rails (outreach: null) never pauses: no rate is above 1.
  const rule = (domain: string | null): OutreachPauseRule => {
    const g = resolvePolicy(doc, { tenantId: job.tenantId, lane: 'outreach', domain }).outreach;
    return g ? { pauseOnComplaintRate: g.pauseOnComplaintRate, pauseMinVolume: g.pauseMinVolume } : { pauseOnComplaintRate: 1, pauseMinVolume: Number.MAX_SAFE_INTEGER };
  };
  return { tenant: rule(null), domain: rule(job.senderDomain) };
}

async function signal(deps: AppDeps, kind: FeedbackSignal['kind'], job: DeliveryJobRecord, now: number): Promise<string[]> {
  await deps.hub.feedback({ kind, job, at: now, outreach: kind === 'complaint' ? await outreachRules(deps, job, now) : undefined });
  return [`signal:${kind}`];
}

export async function takeInbound(deps: AppDeps, caller: Caller, raw: string, envelopeTo: string | null, now: number): Promise<InboundResult> {
  const parsed = parseFeedback(raw);
  const report = reportSummary(parsed);
  const r = parsed.report;
  const log = (result: InboundResult) => {
    deps.metrics.inc('postlane_feedback_reports_total', { kind: result.kind, matched: String(result.matched) });
    deps.logger.info({ key: caller.keyId, kind: result.kind, matched: result.matched, job: result.job_id, via: result.matched_by, actions: result.actions, reason: result.reason, report_message_id: parsed.reportMessageId }, 'feedback report taken');
    return result;
  };
  if (r.kind === 'unknown') return log({ matched: false, kind: 'unknown', reason: r.reason, actions: [], report });

  const named = r.kind === 'arf' ? [...r.originalRcptTo, ...(r.original?.to ?? [])] : r.recipients.flatMap((x) => [x.finalRecipient, x.originalRecipient]).filter((a): a is string => a !== null);
  const kind = r.kind === 'arf' ? (r.complaint ? 'complaint' : 'report') : r.recipients.some((x) => x.permanent) ? 'bounce' : r.recipients.some((x) => x.action === 'delayed') ? 'delay' : 'report';
  const match = await matchJob(deps, caller, parsed, envelopeTo, named);
  if ('reason' in match) return log({ matched: false, kind, reason: match.reason, actions: [], report });

  const { job } = match;
  const base = { matched: true, kind, matched_by: match.via, message_id: job.messageId, job_id: job.id, recipient: job.recipient, report } as const;
  const result = r.kind === 'arf' ? await onArf(deps, job, r, report, now) : await onDsn(deps, job, r, report, now);
  return log({ ...base, ...result });
}

async function onArf(deps: AppDeps, job: DeliveryJobRecord, r: ArfReport, report: Record<string, unknown>, now: number): Promise<Pick<InboundResult, 'actions' | 'reason' | 'duplicate'>> {
  const data = { ...report, matched_recipient: job.recipient, pool: job.pool, sender_domain: job.senderDomain };
  if (!r.complaint) {
    // not-spam (RFC 6430), auth-failure (RFC 6591), other: worth the trace, not a complaint.
    await deps.store.appendEvents([messageEvent('feedback_report', { messageId: job.messageId, jobId: job.id, at: now, data })]);
    return { actions: ['event'], reason: `Feedback-Type ${r.feedbackType || '(none)'} is not a complaint; recorded only` };
  }
  // FBLs resend and operators re-pipe: one complaint per job counts once.
  if ((await deps.store.jobEvents(job.messageId, job.id, [COMPLAINT_EVENT])).length > 0) {
    return { actions: [], duplicate: true, reason: 'this job already has a complaint; not counted twice' };
  }
  const reporter = r.userAgent ?? r.reportingMta ?? 'unknown reporter';
  await deps.store.recordFeedback({
    events: [messageEvent(COMPLAINT_EVENT, { messageId: job.messageId, jobId: job.id, at: now, data: { ...data, suppressed: true } })],
    suppressions: [{ tenantId: job.tenantId, address: job.recipient.toLowerCase(), reason: 'complaint', source: `ARF Feedback-Type ${r.feedbackType} from ${reporter}`.slice(0, 1000), messageId: job.messageId, jobId: job.id, createdAt: now }],
  });
  return { actions: ['suppressed', 'event', ...(await signal(deps, 'complaint', job, now))] };
}

/** The DSN block for this job's recipient, or the only one. */
function blockFor(job: DeliveryJobRecord, r: DsnReport): DsnRecipient | undefined {
  const rcpt = job.recipient.toLowerCase();
  return r.recipients.find((x) => x.finalRecipient === rcpt || x.originalRecipient === rcpt) ?? (r.recipients.length === 1 ? r.recipients[0] : undefined);
}

async function onDsn(deps: AppDeps, job: DeliveryJobRecord, r: DsnReport, report: Record<string, unknown>, now: number): Promise<Pick<InboundResult, 'actions' | 'reason' | 'duplicate'>> {
  const block = blockFor(job, r);
  if (!block) return { actions: [], reason: `the DSN names ${r.recipients.length} recipients and none is ${job.recipient}` };
  const event = (type: 'bounced' | 'dsn_received', extra: { class?: string; rule?: string; suppress_recipient?: boolean; reply?: string; async?: true } = {}) =>
    messageEvent(type, {
      messageId: job.messageId,
      jobId: job.id,
      at: now,
      data: { ...report, source: 'dsn', action: block.action, status: block.status, diagnostic: block.diagnostic, remote_mta: block.remoteMta, ...extra },
    });
  if (!block.permanent) {
    // A delay notice or a success DSN: the job's own retries decide; the trace keeps the notice.
    await deps.store.appendEvents([event('dsn_received')]);
    return { actions: ['event'], reason: `Action ${block.action || '(none)'} with Status ${block.status ?? '(none)'} is not a permanent failure; recorded only` };
  }
  // RFC 3464 §2.3.6: the Diagnostic-Code of type smtp is the remote reply; without one the
  // Status alone (RFC 3463) is classified, the same table the hub uses for live replies.
  const reply = (block.diagnosticType === 'smtp' && block.diagnostic ? parseSmtpReply(block.diagnostic) : null) ?? { code: 550, enhanced: block.status, text: block.diagnostic ?? '' };
  const c = classifyReply(reply, { provider: job.provider }, classifierFor(deps.config.shapingPolicy));
  const line = formatSmtpReply(reply);
  const suppress = c.suppressRecipient ? hardBounceSuppression(job, `DSN from ${r.reportingMta ?? 'unknown MTA'}: ${line}`, now) : undefined;
  const details = { class: c.class, rule: c.rule, suppress_recipient: c.suppressRecipient, reply: line };

  if (job.state === 'delivered') {
    // Accepted, then bounced by the receiver later (RFC 3464 §1): the job's outcome changes.
    const applied = await deps.store.applyTransitions([
      { jobId: job.id, fromStates: ['delivered'], set: { state: 'bounced', lastReply: line, lastClass: c.class, finishedAt: now }, events: [event('bounced', { ...details, async: true })], suppress },
    ]);
    if (applied.length === 0) return { actions: [], duplicate: true, reason: 'the job changed state meanwhile; nothing applied' };
    return { actions: ['transition:delivered->bounced', 'event', ...(suppress ? ['suppressed'] : []), ...(await signal(deps, 'bounce', job, now))] };
  }
  if (job.state === 'bounced' && (await deps.store.jobEvents(job.messageId, job.id, ['bounced', 'dsn_received'] satisfies MessageEventType[])).some((e) => e.data?.source === 'dsn')) {
    return { actions: [], duplicate: true, reason: 'this DSN was already taken for the job' };
  }
  // Bounced at the SMTP stage already (its breaker count is in), or still queued for a retry:
  // the notice joins the trace and a hard bounce still suppresses.
  const added = await deps.store.recordFeedback({ events: [event('dsn_received', details)], suppressions: suppress ? [suppress] : [] });
  return { actions: ['event', ...(added.length ? ['suppressed'] : [])], reason: `job is ${job.state}; the DSN is recorded, its state unchanged` };
}

// ---------------------------------------------------------------------------------------------
// Outreach pause at accept

const PAUSE_CACHE_MS = 1_000;
const pauseCache = new WeakMap<AppDeps, Map<string, { at: number; until: number | null; reason: string }>>();

/**
 * Refuses outreach while complaints hold it paused. The pause is the stored policy event of the
 * hub's outreach breaker (scope `outreach`, key tenant or tenant|domain): the newest one for a key
 * says `open` until its `open_until`. Read from the store, so every edge instance sees it.
 */
export async function assertOutreachNotPaused(deps: AppDeps, tenantId: string, domain: string, now: number) {
  let cache = pauseCache.get(deps);
  if (!cache) pauseCache.set(deps, (cache = new Map()));
  for (const key of [tenantId, `${tenantId}|${domain}`]) {
    let hit = cache.get(key);
    if (!hit || now - hit.at > PAUSE_CACHE_MS) {
      const e = await deps.store.latestPolicyEvent('outreach', [key]);
      const until = e?.toState === 'open' ? Number((e.data as { open_until?: number } | null)?.open_until ?? 0) : 0;
      hit = { at: now, until: until > 0 ? until : null, reason: e?.reason ?? '' };
      cache.set(key, hit);
      if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    }
    if (hit.until !== null && hit.until > now) {
      throw new ApiError(
        'rate_limited',
        `outreach ${key.includes('|') ? `from ${domain}` : 'of this tenant'} is paused by complaints: ${hit.reason}`,
        { limit: 'outreach_complaint_pause', scope: 'outreach', key, resumes_at: new Date(hit.until).toISOString(), see: '/v1/reputation' },
        Math.max(1, Math.ceil((hit.until - now) / 1000)),
      );
    }
  }
}
