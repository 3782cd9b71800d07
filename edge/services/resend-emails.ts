/**
 * Resend's email shapes over our send path: a Resend body becomes a SendMessage (then takes
 * exactly the path `/v1/messages` takes: idempotency, rate, validation, suppression, lanes), and
 * a stored message with its trace becomes Resend's GET /emails/{id} answer.
 */
import type { SendMessage } from '../../shared/api.ts';
import { field, parseMime, walk } from '../../shared/feedback.ts';
import type { MessageWithTrace } from '../ports/store.ts';
import { invalidField, missingField, ResendError } from './resend-errors.ts';
import type { LAST_EVENTS, ResendEmail } from './resend-schemas.ts';

/** The lane header: on the HTTP request (every email in it) or in an email's `headers`, as over SMTP submission. */
export const LANE_HEADER = 'X-Postlane-Lane';
const LANE_TAG = 'lane';

// ISO 8601 date-time with a zone, as Resend documents `scheduled_at` (e.g. 2024-08-05T11:52:01.858Z).
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Resend derives a missing content type from the file name; these are the types mail carries most. */
const CONTENT_TYPES: Record<string, string> = {
  pdf: 'application/pdf', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml',
  txt: 'text/plain', csv: 'text/csv', html: 'text/html', htm: 'text/html', ics: 'text/calendar', json: 'application/json', xml: 'application/xml',
  zip: 'application/zip', doc: 'application/msword', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', eml: 'message/rfc822',
};

function contentTypeOf(filename: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase();
  return (ext && CONTENT_TYPES[ext]) || 'application/octet-stream';
}

/** `scheduled_at` as send_at; natural language ("in 1 min") is refused with the format to use. */
export function scheduledAtOf(value: string, name = 'scheduled_at'): string {
  if (!ISO_DATE_TIME.test(value) || !Number.isFinite(Date.parse(value))) {
    throw invalidField(name, 'Use an ISO 8601 date-time with a time zone, e.g. 2024-08-05T11:52:01.858Z (natural language such as "in 1 hour" is not accepted).');
  }
  return new Date(Date.parse(value)).toISOString();
}

/**
 * One Resend email as our SendMessage. `at` prefixes field names in a batch (`[2].to`); the
 * lane comes from a `lane` tag or the X-Postlane-Lane header, and the two must agree.
 */
export function toSendMessage(email: ResendEmail, requestLane: string | null, at = ''): SendMessage {
  const f = (name: string) => `${at}${name}`;
  if (email.from === undefined) throw missingField(f('from'));
  if (email.to === undefined) throw missingField(f('to'));
  if (email.topic_id != null) throw new ResendError('invalid_parameter', `\`${f('topic_id')}\`: topics are not supported by Postlane; leave it out.`);
  if (!email.template) {
    if (email.subject === undefined) throw missingField(f('subject'));
    if (email.html === undefined && email.text === undefined) throw new ResendError('missing_required_field', `Missing \`${f('html')}\` or \`${f('text')}\` field.`);
  }

  const headers: Record<string, string> = {};
  let headerLane: string | null = null;
  for (const [name, value] of Object.entries(email.headers ?? {})) {
    // Ours to read, never carried (as SMTP submission strips X-Postlane-*).
    if (name.toLowerCase() === LANE_HEADER.toLowerCase()) headerLane = value.trim().toLowerCase();
    else headers[name] = value;
  }
  const tags: Record<string, string> = {};
  for (const tag of email.tags ?? []) {
    if (Object.hasOwn(tags, tag.name)) throw invalidField(f('tags'), `The tag ${tag.name} is given twice.`);
    tags[tag.name] = tag.value;
  }
  const lanes = [...new Set([tags[LANE_TAG], headerLane, requestLane].filter((l): l is string => !!l))];
  if (lanes.length > 1) throw invalidField(f('tags'), `The lane is given as ${lanes.join(' and ')} (the \`lane\` tag and the ${LANE_HEADER} header); give one.`);

  return {
    from: email.from,
    to: email.to,
    ...(email.cc !== undefined ? { cc: email.cc } : {}),
    ...(email.bcc !== undefined ? { bcc: email.bcc } : {}),
    ...(email.reply_to !== undefined ? { reply_to: email.reply_to } : {}),
    ...(email.subject !== undefined ? { subject: email.subject } : {}),
    ...(email.html !== undefined ? { html: email.html } : {}),
    ...(email.text !== undefined ? { text: email.text } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(Object.keys(tags).length ? { tags } : {}),
    ...(lanes[0] ? { lane: lanes[0] } : {}),
    ...(email.scheduled_at !== undefined ? { send_at: scheduledAtOf(email.scheduled_at, f('scheduled_at')) } : {}),
    ...(email.attachments?.length ? { attachments: email.attachments.map((a, i) => attachmentOf(a, f(`attachments[${i}]`))) } : {}),
    ...(email.template ? { template_id: email.template.id, ...(email.template.variables ? { variables: email.template.variables } : {}) } : {}),
  };
}

function attachmentOf(a: NonNullable<ResendEmail['attachments']>[number], name: string): NonNullable<SendMessage['attachments']>[number] {
  if (a.path !== undefined) throw new ResendError('invalid_attachment', `\`${name}.path\`: Postlane does not fetch attachments from URLs; send the file as base64 \`content\`.`);
  if (a.content === undefined) throw new ResendError('invalid_attachment', `\`${name}.content\` is required (base64).`);
  if (!a.filename) throw new ResendError('invalid_attachment', `\`${name}.filename\` is required.`);
  return { filename: a.filename, content: a.content, content_type: a.content_type ?? contentTypeOf(a.filename), ...(a.content_id ? { content_id: a.content_id } : {}) };
}

/** Our trace as Resend's `last_event`: the newest event that one of Resend's names describes. */
const LAST_EVENT_OF: Partial<Record<string, (typeof LAST_EVENTS)[number]>> = {
  accepted: 'queued',
  scheduled: 'scheduled',
  rescheduled: 'scheduled',
  canceled: 'canceled',
  suppressed: 'suppressed',
  delivered: 'delivered',
  deferred: 'delivery_delayed',
  bounced: 'bounced',
  failed: 'failed',
  complained: 'complained',
  opened: 'opened',
  clicked: 'clicked',
};

export function lastEventOf(events: Array<{ type: string }>): (typeof LAST_EVENTS)[number] {
  for (let i = events.length - 1; i >= 0; i--) {
    const name = LAST_EVENT_OF[events[i].type];
    if (name) return name;
  }
  return 'queued';
}

/** The body parts as sent: the first text/plain and text/html that are not attachments. */
function bodiesOf(raw: string): { text: string | null; html: string | null; from: string | null; replyTo: string[] | null } {
  const root = parseMime(raw);
  let text: string | null = null;
  let html: string | null = null;
  for (const part of walk(root)) {
    if (/^attachment/i.test(field(part.headers, 'content-disposition') ?? '')) continue;
    if (part.contentType === 'text/plain' && text === null) text = part.body;
    if (part.contentType === 'text/html' && html === null) html = part.body;
  }
  const replyTo = field(root.headers, 'reply-to');
  return { text, html, from: field(root.headers, 'from'), replyTo: replyTo ? replyTo.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).map((s) => s.trim()) : null };
}

export function emailView({ message, jobs, events }: MessageWithTrace) {
  const parts = bodiesOf(message.raw);
  const of = (kind: string) => jobs.filter((j) => j.recipientKind === kind).map((j) => j.recipient);
  const cc = of('cc');
  const bcc = of('bcc');
  return {
    object: 'email' as const,
    id: message.id,
    to: of('to'),
    from: parts.from ?? message.fromAddress,
    created_at: new Date(message.createdAt).toISOString(),
    subject: message.subject,
    html: parts.html,
    text: parts.text,
    bcc: bcc.length ? bcc : null,
    cc: cc.length ? cc : null,
    reply_to: parts.replyTo,
    last_event: lastEventOf(events),
    scheduled_at: message.sendAt === null ? null : new Date(message.sendAt).toISOString(),
    message_id: message.messageIdHeader,
    tags: Object.entries(message.tags ?? {}).map(([name, value]) => ({ name, value })),
  };
}
