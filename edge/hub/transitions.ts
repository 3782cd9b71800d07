/**
 * What a delivery result does to its job: pure, so every outcome is table-tested. The reply is
 * classified with the provider table (shared/policy); deferrals are planned by the retry policy
 * of the reply's class until the TTL is spent, then the job fails to the dead-letter state with
 * its reason chain in the trace.
 */
import type { DeliveryResult } from '../../shared/protocol.ts';
import { formatSmtpReply } from '../../shared/smtp-reply.ts';
import { planRetry, type RetrySchedule } from '../../shared/policy/retry.ts';
import { classifyReply, type Classification, type ClassifierTable } from '../../shared/policy/classifier.ts';
import type { JobTransition } from '../ports/store.ts';
import type { DeliveryJobRecord } from '../domain/records.ts';
import { messageEvent, type MessageEventData, type MessageEventType } from '../../shared/events/index.ts';
import { OPEN_JOB_STATES } from '../../shared/lanes.ts';

const OPEN_STATES: string[] = [...OPEN_JOB_STATES];

export interface TransitionContext {
  now: number;
  nodeId: string;
  random?: () => number;
  /** Operator bounds laid over every class's schedule (e.g. a shorter first retry). */
  retryOverride?: Partial<RetrySchedule>;
}

export function replyLine(result: DeliveryResult): string {
  if (result.reply) return formatSmtpReply(result.reply);
  return `${result.stage ?? 'ERROR'}: ${result.error ?? 'no reply'}`;
}

/**
 * The reply's class with the provider table in force (the operator's merged records, else the
 * shipped ones); the hub computes it once per result.
 */
export function classifyResult(job: Pick<DeliveryJobRecord, 'provider'>, result: DeliveryResult, table?: ClassifierTable): Classification {
  return classifyReply(result.reply, { provider: job.provider, error: result.error, stage: result.stage }, table);
}

export function transitionForResult(
  job: DeliveryJobRecord,
  result: DeliveryResult,
  ctx: TransitionContext,
  classification: Classification = classifyResult(job, result),
): JobTransition {
  const { now } = ctx;
  const reply = replyLine(result);
  const attempt = {
    node: ctx.nodeId,
    attempt: job.attempts,
    mx: result.mx,
    ip: result.sourceIp,
    tls: result.tls,
    reply,
    code: result.reply?.code ?? null,
    enhanced: result.reply?.enhanced ?? null,
    stage: result.stage,
    class: classification.class,
    rule: classification.rule,
    duration_ms: Math.max(0, result.finishedAt - result.startedAt),
    from_journal: result.fromJournal || undefined,
  };
  const event = <T extends MessageEventType>(type: T, data: MessageEventData<T>) => messageEvent(type, { messageId: job.messageId, jobId: job.id, at: now, data });
  const base = { lastReply: reply, lastClass: classification.class, leaseId: null, leaseOwner: null, leaseExpiresAt: null };

  if (result.outcome === 'delivered') {
    return {
      jobId: job.id,
      fromStates: OPEN_STATES,
      set: { ...base, lastClass: null, state: 'delivered', finishedAt: now },
      events: [event('delivered', { ...attempt, class: undefined, rule: undefined })],
    };
  }

  // A node's outcome says what the server did; the classifier may know better (a provider that
  // answers a throttle with 5xx is a deferral, not a bounce).
  const permanent = result.outcome === 'bounced' && classification.outcome === 'bounced';
  if (permanent) {
    return {
      jobId: job.id,
      fromStates: OPEN_STATES,
      set: { ...base, state: 'bounced', finishedAt: now },
      events: [event('bounced', { ...attempt, suppress_recipient: classification.suppressRecipient })],
      // A hard bounce (unknown user, disabled mailbox) lists the recipient in the same commit,
      // so no later send to it is queued (SPEC §5).
      ...(classification.suppressRecipient ? { suppress: hardBounceSuppression(job, reply, now) } : {}),
    };
  }

  const decision = planRetry({
    attempts: job.attempts,
    acceptedAt: job.createdAt,
    now,
    schedule: { ...classification.schedule, ...ctx.retryOverride },
    random: ctx.random,
  });
  if (decision.action === 'fail') {
    return {
      jobId: job.id,
      fromStates: OPEN_STATES,
      set: { ...base, state: 'failed', finishedAt: now },
      events: [event('deferred', { ...attempt, next_attempt_at: null }), event('failed', { reason: decision.reason, last_reply: reply, attempts: job.attempts })],
    };
  }
  return {
    jobId: job.id,
    fromStates: OPEN_STATES,
    set: { ...base, state: 'queued', nextAttemptAt: decision.at },
    events: [event('deferred', { ...attempt, next_attempt_at: new Date(decision.at).toISOString(), retry_in_ms: decision.delayMs })],
  };
}

/** The suppression a hard bounce adds: the reply is its source. */
export function hardBounceSuppression(job: Pick<DeliveryJobRecord, 'tenantId' | 'recipient' | 'messageId' | 'id'>, source: string, now: number) {
  return { tenantId: job.tenantId, address: job.recipient.toLowerCase(), reason: 'hard_bounce' as const, source: source.slice(0, 1000), messageId: job.messageId, jobId: job.id, createdAt: now };
}
