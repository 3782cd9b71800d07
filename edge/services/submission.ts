/**
 * SMTP submission (RFC 6409) onto the send path: a message a client submitted, parsed, becomes
 * the same request as `POST /v1/messages`, and the API's answer becomes the SMTP reply. Pure (no
 * parser, no socket), so the Node listener (edge/adapters/smtp-submission/) only moves bytes.
 *
 * - Recipients are the envelope's (RFC 5321 RCPT TO): a To or Cc address the client did not name
 *   in the envelope is not sent to (and so not shown), an envelope recipient in neither is Bcc.
 * - The platform writes From, To, Cc, Subject, Date, Message-ID, MIME structure and DKIM itself
 *   (edge/services/accept.ts); every other header field is carried over as it came, except
 *   `X-Postlane-*`, which steer the send and are stripped: `X-Postlane-Lane` picks the lane.
 * - The client's Message-ID is the idempotency key: a client that resubmits after a lost 250
 *   gets the first answer again, and no second message.
 */
import type { SendMessage } from '../../shared/api.ts';
import type { ApiErrorBody } from '../../shared/errors.ts';
import { invalid } from '../../shared/errors.ts';
import { parseMailbox } from '../../shared/address.ts';
import { base64, sha256Hex } from '../../shared/ids.ts';

export interface SubmittedAddress {
  address: string;
  name?: string;
}

export interface SubmittedAttachment {
  filename?: string;
  contentType: string;
  content: Uint8Array;
  /** Content-ID without the angle brackets (inline parts of an HTML body). */
  contentId?: string;
}

/** A submitted message as a MIME parser (mailparser on Node) reads it. */
export interface SubmittedMessage {
  from: SubmittedAddress[];
  to: SubmittedAddress[];
  cc: SubmittedAddress[];
  replyTo: SubmittedAddress[];
  subject?: string;
  text?: string;
  html?: string;
  /** Every header field as it came, in order: its name (lower case) and its whole (folded) line. */
  headerLines: ReadonlyArray<{ key: string; line: string }>;
  attachments: SubmittedAttachment[];
  messageId?: string;
}

export interface SubmissionRequest {
  body: SendMessage;
  /** `Idempotency-Key` of the request: derived from the client's Message-ID (null: it gave none). */
  idempotencyKey: string | null;
}

/** The header that names the lane; every `X-Postlane-*` field is ours to read and is stripped. */
export const LANE_HEADER = 'x-postlane-lane';

/**
 * Fields the platform writes or that describe the original's MIME structure, transport or
 * authentication: none of them survives a rebuild of the message, so none is carried over.
 */
const NOT_CARRIED = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'dkim-signature',
  'return-path',
  'received',
  'sender',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
  'authentication-results',
  'received-spf',
  'delivered-to',
  'x-original-to',
]);

/** RFC 5322 §2.2.3: unfolding removes each CRLF that is followed by white space. */
function unfold(line: string): string {
  return line.replace(/\r?\n(?=[ \t])/g, '');
}

function carriedHeaders(lines: SubmittedMessage['headerLines']): { headers: Record<string, string>; lane: string | undefined } {
  const headers: Record<string, string> = {};
  let lane: string | undefined;
  for (const { key, line } of lines) {
    const colon = line.indexOf(':');
    if (colon < 1) continue;
    const name = line.slice(0, colon).trim();
    const value = unfold(line.slice(colon + 1))
      .replace(/\r?\n$/, '')
      .trim();
    if (key === LANE_HEADER) lane ??= value.toLowerCase();
    if (key.startsWith('x-postlane-') || key.startsWith('content-') || NOT_CARRIED.has(key)) continue;
    // One value per name (the request's headers are a map): the first one, as readers take it.
    if (!Object.keys(headers).some((n) => n.toLowerCase() === key)) headers[name] = value;
  }
  return { headers, lane };
}

const canonical = (address: string) => {
  const parsed = parseMailbox(address);
  return parsed.ok ? parsed.mailbox.address.toLowerCase() : address.toLowerCase();
};

const mailbox = (a: SubmittedAddress) => (a.name ? { email: a.address, name: a.name } : a.address);

/** The `POST /v1/messages` request a submitted message makes, for the envelope recipients `rcptTo`. */
export async function submissionRequest(message: SubmittedMessage, rcptTo: string[]): Promise<SubmissionRequest> {
  const from = message.from[0];
  if (!from?.address) throw invalid('from', 'the message has no From address (RFC 5322 §3.6.2)');
  const envelope = new Map(rcptTo.map((r) => [canonical(r), r]));
  const named = new Set<string>();
  const inEnvelope = (list: SubmittedAddress[]) =>
    list.filter((a) => {
      const key = canonical(a.address);
      if (!envelope.has(key) || named.has(key)) return false;
      named.add(key);
      return true;
    });
  const to = inEnvelope(message.to);
  const cc = inEnvelope(message.cc);
  const bcc = [...envelope].filter(([key]) => !named.has(key)).map(([, address]) => address);
  const { headers, lane } = carriedHeaders(message.headerLines);

  const body: SendMessage = {
    from: mailbox(from),
    ...(to.length ? { to: to.map(mailbox) } : {}),
    ...(cc.length ? { cc: cc.map(mailbox) } : {}),
    ...(bcc.length ? { bcc } : {}),
    ...(message.replyTo.length ? { reply_to: message.replyTo.map(mailbox) } : {}),
    subject: message.subject ?? '',
    // A message with neither part is sent with an empty text body, as it came.
    ...(message.text !== undefined || message.html === undefined ? { text: message.text ?? '' } : {}),
    ...(message.html !== undefined ? { html: message.html } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(message.attachments.length
      ? {
          attachments: message.attachments.map((a, i) => ({
            filename: a.filename || `attachment-${i + 1}`,
            content_type: a.contentType.split(';')[0].trim() || 'application/octet-stream',
            content: base64(a.content),
            ...(a.contentId ? { content_id: a.contentId.replace(/^<|>$/g, '') } : {}),
          })),
        }
      : {}),
    ...(lane ? { lane } : {}),
  };
  // Hashed: a Message-ID may be longer, or have more characters, than a key allows.
  const idempotencyKey = message.messageId ? `smtp:${await sha256Hex(message.messageId)}` : null;
  return { body, idempotencyKey };
}

export interface SmtpAnswer {
  code: number;
  /** Enhanced status code (RFC 3463) and text, one line. */
  message: string;
}

const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ').slice(0, 400);

/** The SMTP reply for the API's answer to a submission: 250 only for a committed 202. */
export function smtpAnswer(status: number, body: unknown): SmtpAnswer {
  if (status === 202) {
    const accepted = body as { id: string; status: string; suppressed?: string[] };
    const suppressed = accepted.suppressed?.length ? `; suppressed, not sent: ${accepted.suppressed.join(', ')}` : '';
    return { code: 250, message: oneLine(`2.0.0 OK: queued as ${accepted.id}${suppressed}`) };
  }
  const error = (body as Partial<ApiErrorBody>)?.error;
  const text = oneLine(error?.message ?? `the send path answered HTTP ${status}`);
  const field = String(error?.field ?? '');
  switch (status) {
    case 400:
      if (field === 'from') return { code: 553, message: `5.1.8 ${text}` };
      if (/^(to|cc|bcc)\b/.test(field)) return { code: 553, message: `5.1.3 ${text}` };
      return { code: 554, message: `5.6.0 ${text}` };
    case 401:
      return { code: 535, message: `5.7.8 ${text}` };
    case 403:
      return { code: 550, message: `5.7.1 ${text}` };
    case 409:
      return { code: 554, message: `5.6.0 ${text} (the Message-ID was already submitted with other content)` };
    case 413:
      return { code: 552, message: `5.3.4 ${text}` };
    case 429:
      return { code: 451, message: `4.7.1 ${text}; try again later` };
    default:
      // 5xx: nothing or the outcome is unknown; the same Message-ID retried gets the first answer.
      return { code: 451, message: `4.3.0 ${text}; try again later` };
  }
}
