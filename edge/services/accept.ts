/**
 * Turns validated API bodies into the rows the store commits on accept: the message (its MIME
 * built once), one delivery job per distinct recipient, and the first events. Pure apart from
 * the lookups passed in, so the field rules are tested without I/O.
 */
import { LANES, type Lane, type SendMessage } from '../../shared/api.ts';
import { parseMailbox, type Mailbox, type MailboxInput } from '../../shared/address.ts';
import { buildMime, type MimeAttachment } from '../../shared/mime.ts';
import { contentIdProblem, headerTextProblem } from '../../shared/header-field.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import type { NewMessage } from '../ports/store.ts';
import { freshJobState, type SendingDomainRecord } from '../domain/records.ts';
import { missingRequired } from './domains.ts';
import { messageEvent } from '../../shared/events/index.ts';
import { carriesUnsubscribe, type UnsubscribeClaim, type UnsubscribeLinks } from './unsubscribe.ts';
import type { RenderedContent } from './templates.ts';
import type { TemplateVersionRecord } from '../ports/templates.ts';
import { checkContentFields, contentOf, refuseUnsubscribeHeaders, unsubscribeFor } from './accept-content.ts';

export interface AcceptContext {
  tenantId: string;
  now: number;
  maxMessageBytes: number;
  /** Registered sending domains of the tenant, by ASCII domain. */
  domain(domain: string): Promise<SendingDomainRecord | null>;
  /** The tenant that holds a domain verified, if any: no other tenant may send as it. */
  verifiedOwner?(domain: string): Promise<string | null>;
  /** Pools the tenant may use: shared ones and its own dedicated ones. */
  pools: Map<string, { tenantId: string | null }>;
  requireVerifiedDomain: boolean;
  /** The provider a recipient domain belongs to, by the provider table in force. */
  providerOf(domain: string): string;
  /** The one-click unsubscribe links of a bulk-lane recipient (edge/services/unsubscribe.ts); required for lifecycle and outreach mail. */
  unsubscribe?(claim: UnsubscribeClaim): Promise<UnsubscribeLinks>;
  /** One of the tenant's stored template versions (null version: the current one); null if none such. */
  template?(id: string, version: number | null): Promise<TemplateVersionRecord | null>;
  /** The HTML part with open/click tracking, if the lane's policy tracks this send (edge/services/tracking.ts); else as given. */
  track?(html: string, m: { lane: Lane; senderDomain: string; recipients: string[]; messageId: string; unsubscribeUrl: string | null }): Promise<string>;
}

/** Headers the platform writes itself; a caller setting them would break structure or auth. */
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'date', 'message-id', 'mime-version',
  'content-type', 'content-transfer-encoding', 'dkim-signature', 'return-path', 'received',
  'sender', 'arc-seal', 'arc-message-signature', 'arc-authentication-results',
]);
// RFC 5322 §3.6.8: field names are printable US-ASCII except colon.
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]{1,76}$/;
const MAX_RECIPIENTS = 1000;

function mailboxes(field: string, value: MailboxInput | MailboxInput[] | undefined): Mailbox[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, i) => {
    const parsed = parseMailbox(item);
    if (!parsed.ok) throw invalid(Array.isArray(value) ? `${field}[${i}]` : field, parsed.reason);
    return parsed.mailbox;
  });
}

/** Every value that becomes (part of) a header passes this one rule (shared/header-field.ts). */
function headerSafe(field: string, value: string) {
  const problem = headerTextProblem(value);
  if (problem) throw invalid(field, problem);
}

function decodedLength(b64: string): number | null {
  const clean = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) return null;
  return (clean.length / 4) * 3 - (clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0);
}

/** Names fields for errors: in a batch, each message's fields carry its index. */
export interface FieldNames {
  at(field: string): string;
  /** Runs a check written for a single message, renaming the field of its error for a batch item. */
  wrap<T>(fn: () => T): T;
}

function fieldNames(index: number | null): FieldNames {
  const at = (field: string) => (index === null ? field : `messages[${index}].${field}`);
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'invalid_request' && index !== null) {
        throw invalid(at(String(e.details.field)), String(e.details.reason));
      }
      throw e;
    }
  };
  return { at, wrap };
}

interface Addresses {
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  replyTo: Mailbox[];
}

export async function prepareMessage(body: SendMessage, ctx: AcceptContext, index: number | null = null): Promise<NewMessage> {
  const names = fieldNames(index);
  const { at } = names;
  const addresses = addressesOf(body, names);
  const { lane, pool } = laneAndPool(body, ctx, at);
  checkContentFields(body, at);
  const headers = customHeaders(body, names);
  if (carriesUnsubscribe(lane)) refuseUnsubscribeHeaders(headers, lane, at);
  checkTags(body, names);
  const { attachments, attachmentBytes } = attachmentsOf(body, names);
  await checkSendingDomain(addresses.from, ctx, at);
  const sendAt = sendAtOf(body, at);
  const recipients = distinctRecipients(addresses, at);

  const messageId = newId('msg', ctx.now);
  const unsubscribe = await unsubscribeFor(ctx, { lane, recipients, messageId, from: addresses.from }, at);
  if (unsubscribe) Object.assign(headers, unsubscribe.headers);
  const content = await contentOf(body, ctx, { lane, unsubscribeUrl: unsubscribe?.url ?? null }, names);
  if (content.html !== null && ctx.track) {
    content.html = await ctx.track(content.html, { lane, senderDomain: addresses.from.domain, recipients: [...recipients.keys()], messageId, unsubscribeUrl: unsubscribe?.url ?? null });
  }
  const { raw, sizeBytes } = encode(content, addresses, headers, attachments, attachmentBytes, messageId, ctx, at);
  const nextAttemptAt = sendAt && sendAt > ctx.now ? sendAt : ctx.now;
  const jobs = [...recipients.values()].map(({ mailbox, kind }) => newJob(body, ctx, { messageId, mailbox, kind, from: addresses.from, lane, pool, nextAttemptAt }));
  return {
    message: {
      id: messageId,
      tenantId: ctx.tenantId,
      fromAddress: addresses.from.address,
      fromDomain: addresses.from.domain,
      subject: content.subject,
      lane,
      pool,
      raw,
      sizeBytes,
      messageIdHeader: `<${messageId}@${addresses.from.domain}>`,
      tags: body.tags ?? null,
      constraints: body.constraints ?? null,
      sendAt,
      createdAt: ctx.now,
    },
    jobs,
    events: firstEvents(messageId, ctx.now, { recipients: jobs.length, lane, pool, sizeBytes, nextAttemptAt }),
  };
}

function addressesOf(body: SendMessage, { wrap }: FieldNames): Addresses {
  const from = wrap(() => mailboxes('from', body.from)[0]);
  const to = wrap(() => mailboxes('to', body.to));
  const cc = wrap(() => mailboxes('cc', body.cc));
  const bcc = wrap(() => mailboxes('bcc', body.bcc));
  const replyTo = wrap(() => mailboxes('reply_to', body.reply_to));
  if (body.subject !== undefined) wrap(() => headerSafe('subject', body.subject!));
  return { from, to, cc, bcc, replyTo };
}

/** The lane must exist, and the pool be shared or the tenant's own (dedicated only if asked). */
function laneAndPool(body: SendMessage, ctx: AcceptContext, at: FieldNames['at']): { lane: Lane; pool: string } {
  const lane = (body.lane ?? 'transactional') as Lane;
  if (!LANES.includes(lane)) throw invalid(at('lane'), `unknown lane; use one of ${LANES.join(', ')}`);
  const pool = body.pool ?? 'default';
  const poolInfo = ctx.pools.get(pool);
  if (!poolInfo || (poolInfo.tenantId !== null && poolInfo.tenantId !== ctx.tenantId)) {
    throw invalid(at('pool'), `unknown pool "${pool}"`);
  }
  if (body.constraints?.dedicated_only && poolInfo.tenantId === null) {
    throw invalid(at('pool'), `pool "${pool}" is shared but constraints.dedicated_only is set`);
  }
  return { lane, pool };
}

function customHeaders(body: SendMessage, { at, wrap }: FieldNames): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(body.headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw invalid(at(`headers.${name}`), 'not a valid header field name (RFC 5322 §3.6.8)');
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw invalid(at(`headers.${name}`), 'is set by Postlane and cannot be overridden');
    wrap(() => headerSafe(`headers.${name}`, value));
    headers[name] = value;
  }
  return headers;
}

function checkTags(body: SendMessage, { wrap }: FieldNames) {
  for (const [name, value] of Object.entries(body.tags ?? {})) {
    wrap(() => headerSafe(`tags.${name}`, name));
    wrap(() => headerSafe(`tags.${name}`, value));
  }
}

function attachmentsOf(body: SendMessage, { at, wrap }: FieldNames): { attachments: MimeAttachment[]; attachmentBytes: number } {
  let attachmentBytes = 0;
  const attachments: MimeAttachment[] = (body.attachments ?? []).map((a, i) => {
    wrap(() => headerSafe(`attachments[${i}].filename`, a.filename));
    if (a.content_id != null) {
      const problem = headerTextProblem(a.content_id) ?? contentIdProblem(a.content_id);
      if (problem) throw invalid(at(`attachments[${i}].content_id`), problem);
    }
    if (/[\r\n";]/.test(a.content_type) || !/^[\w.+-]+\/[\w.+-]+$/.test(a.content_type)) {
      throw invalid(at(`attachments[${i}].content_type`), 'not a MIME type like application/pdf');
    }
    const size = decodedLength(a.content);
    if (size === null) throw invalid(at(`attachments[${i}].content`), 'not valid base64');
    attachmentBytes += size;
    return { filename: a.filename, contentType: a.content_type, contentBase64: a.content, contentId: a.content_id ?? null };
  });
  return { attachments, attachmentBytes };
}

async function checkSendingDomain(from: Mailbox, ctx: AcceptContext, at: FieldNames['at']) {
  const sendingDomain = await ctx.domain(from.domain);
  if (!sendingDomain) {
    throw invalid(at('from'), `sending domain ${from.domain} is not registered for this tenant; add it with POST /v1/domains`);
  }
  if (sendingDomain.status === 'verified') return;
  // Verified is exclusive (one tenant at a time), so only an unverified record needs the look.
  const owner = ctx.verifiedOwner ? await ctx.verifiedOwner(from.domain) : null;
  if (owner !== null && owner !== ctx.tenantId) {
    throw invalid(
      at('from'),
      `sending domain ${from.domain} is verified by another tenant, so this tenant cannot send as it (its own record is ${sendingDomain.status}); use a domain this tenant controls`,
    );
  }
  if (ctx.requireVerifiedDomain) {
    const missing = missingRequired(sendingDomain);
    throw invalid(
      at('from'),
      `sending domain ${from.domain} is not verified (status ${sendingDomain.status}): publish ${missing.join(' and ') || 'its DKIM and ownership records'}, then POST /v1/domains/${sendingDomain.id}/verify`,
    );
  }
}

/** One job per distinct address (case-insensitive) across to, cc and bcc, in that order. */
function distinctRecipients({ to, cc, bcc }: Addresses, at: FieldNames['at']) {
  const recipients = new Map<string, { mailbox: Mailbox; kind: string }>();
  for (const [kind, list] of [['to', to], ['cc', cc], ['bcc', bcc]] as const) {
    for (const m of list) if (!recipients.has(m.address.toLowerCase())) recipients.set(m.address.toLowerCase(), { mailbox: m, kind });
  }
  if (recipients.size === 0) throw invalid(at('to'), 'at least one recipient in to, cc or bcc is required');
  if (recipients.size > MAX_RECIPIENTS) throw invalid(at('to'), `at most ${MAX_RECIPIENTS} recipients per message`);
  return recipients;
}

/** The message's MIME, built once for all its recipients, within the size limit. */
function encode(
  body: RenderedContent,
  { from, to, cc, replyTo }: Addresses,
  headers: Record<string, string>,
  attachments: MimeAttachment[],
  attachmentBytes: number,
  messageId: string,
  ctx: AcceptContext,
  at: FieldNames['at'],
): { raw: string; sizeBytes: number } {
  const raw = buildMime({
    from,
    to,
    cc,
    replyTo,
    subject: body.subject,
    text: body.text,
    html: body.html,
    headers,
    attachments,
    messageId: `${messageId}@${from.domain}`,
    date: new Date(ctx.now),
  });
  const sizeBytes = new TextEncoder().encode(raw).length;
  if (sizeBytes > ctx.maxMessageBytes || attachmentBytes > ctx.maxMessageBytes) {
    // Name the part that makes the message large, so the caller knows what to cut.
    const parts: Array<[string, number]> = [['attachments', attachmentBytes], ['text', body.text?.length ?? 0], ['html', body.html?.length ?? 0]];
    const largest = parts.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    throw new ApiError('payload_too_large', `${at('message')} is ${sizeBytes} bytes encoded; the limit is ${ctx.maxMessageBytes}`, {
      field: at(largest),
      limit: ctx.maxMessageBytes,
      size: sizeBytes,
    });
  }
  return { raw, sizeBytes };
}

function newJob(
  body: SendMessage,
  ctx: AcceptContext,
  j: { messageId: string; mailbox: Mailbox; kind: string; from: Mailbox; lane: Lane; pool: string; nextAttemptAt: number },
): NewMessage['jobs'][number] {
  return {
    id: newId('job', ctx.now),
    messageId: j.messageId,
    tenantId: ctx.tenantId,
    recipient: j.mailbox.address,
    recipientKind: j.kind,
    domain: j.mailbox.domain,
    senderDomain: j.from.domain,
    provider: ctx.providerOf(j.mailbox.domain),
    pool: j.pool,
    lane: j.lane,
    region: body.constraints?.region ?? null,
    dedupKey: `${j.messageId}:${j.mailbox.address.toLowerCase()}`,
    ...freshJobState(ctx.now, j.nextAttemptAt),
  };
}

/** `send_at`, or its alias `scheduled_at`; both given must agree. */
function sendAtOf(body: SendMessage, at: FieldNames['at']): number | null {
  if (body.send_at && body.scheduled_at && Date.parse(body.send_at) !== Date.parse(body.scheduled_at)) {
    throw invalid(at('scheduled_at'), 'is an alias of send_at and differs from it; give one of the two');
  }
  const text = body.send_at ?? body.scheduled_at;
  return text ? Date.parse(text) : null;
}

/** The trace starts with `accepted`, and `scheduled` when send_at lies ahead. */
function firstEvents(messageId: string, now: number, m: { recipients: number; lane: Lane; pool: string; sizeBytes: number; nextAttemptAt: number }): NewMessage['events'] {
  const events: NewMessage['events'] = [
    messageEvent('accepted', { messageId, jobId: null, at: now, data: { recipients: m.recipients, lane: m.lane, pool: m.pool, size_bytes: m.sizeBytes } }),
  ];
  if (m.nextAttemptAt > now) {
    events.push(messageEvent('scheduled', { messageId, jobId: null, at: now, data: { send_at: new Date(m.nextAttemptAt).toISOString() } }));
  }
  return events;
}
