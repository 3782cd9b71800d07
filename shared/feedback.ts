/**
 * Feedback intake parsing: spam complaints as ARF reports (RFC 5965) and bounces as delivery
 * status notifications (RFC 3464), from the raw RFC 5322 message an operator's FBL mailbox or
 * the MX of the VERP domain pipes to `POST /v1/inbound`. Pure and Web-API only: the same code
 * runs in the Worker, which has no Node streams (so not mailparser, whose parser is built on
 * them); only the few MIME rules a report needs are implemented here, each with its RFC.
 *
 * What it returns is what the intake needs to tie a report to a delivery job: the VERP
 * addresses in sight (the original's Return-Path, ARF Original-Mail-From, the DSN's own
 * envelope recipient), the original Message-ID, the recipients, and the report's verdict.
 */

// ---------------------------------------------------------------------------------------------
// RFC 5322 header sections and RFC 2045/2046 MIME structure

export interface HeaderField {
  /** Lower-cased field name. */
  name: string;
  /** Unfolded value, trimmed. */
  value: string;
}

export interface MimePart {
  headers: HeaderField[];
  /** Lower-cased `type/subtype`; text/plain when absent (RFC 2045 §5.2). */
  contentType: string;
  params: Record<string, string>;
  /** The body after transfer decoding, as text. For multiparts, the preamble-free raw body. */
  body: string;
  /** Body parts of a multipart (RFC 2046 §5.1), or the one message of a message/rfc822 part. */
  parts: MimePart[];
}

/** Deeper nesting than this is refused: reports nest three levels, forwarded ones four or five. */
const MAX_DEPTH = 8;
/** RFC 5322 §3.6.8: field names are printable US-ASCII except colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** Splits at the first empty line (RFC 5322 §2.1): header section, then body. */
export function splitMessage(raw: string): { header: string; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return { header: raw, body: '' };
  return { header: raw.slice(0, m.index), body: raw.slice(m.index + m[0].length) };
}

/**
 * Header fields in order, unfolded (RFC 5322 §2.2.3: a CRLF followed by WSP is folding).
 * Lines that are neither a field nor a continuation are skipped, as lenient MTAs do.
 */
export function parseHeaderFields(text: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (fields.length) fields[fields.length - 1].value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    if (!FIELD_NAME.test(name)) continue;
    fields.push({ name: name.toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

export const field = (fields: HeaderField[], name: string): string | null => fields.find((f) => f.name === name)?.value ?? null;
export const fieldsNamed = (fields: HeaderField[], name: string): string[] => fields.filter((f) => f.name === name).map((f) => f.value);

/** RFC 2045 §5.1 `type/subtype; param=value; param="quoted value"`. */
export function parseContentType(value: string | null): { type: string; params: Record<string, string> } {
  if (!value) return { type: 'text/plain', params: {} };
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (let m: RegExpExecArray | null; (m = re.exec(value)); ) params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return { type: /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : 'text/plain', params };
}

/** RFC 2045 §6.8 base64, then UTF-8 (reports are US-ASCII or UTF-8 in practice). */
function decodeBase64(text: string): string {
  try {
    const bin = atob(text.replace(/[^A-Za-z0-9+/=]/g, ''));
    return new TextDecoder('utf-8').decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return text;
  }
}

/** RFC 2045 §6.7 quoted-printable: soft line breaks and =XX octets. */
function decodeQuotedPrintable(text: string): string {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of new TextEncoder().encode(c)) bytes.push(b);
    }
  }
  return new TextDecoder('utf-8').decode(new Uint8Array(bytes));
}

function decodeBody(body: string, encoding: string | null): string {
  const cte = (encoding ?? '7bit').trim().toLowerCase();
  if (cte === 'base64') return decodeBase64(body);
  if (cte === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

/**
 * RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary at the start of a line (the CRLF belongs
 * to the delimiter), the close delimiter adds "--"; transport padding (spaces) may follow.
 */
function splitMultipart(body: string, boundary: string): string[] {
  const parts: string[] = [];
  const lines = body.split(/\r?\n/);
  let current: string[] | null = null;
  for (const line of lines) {
    const trimmed = line.replace(/[ \t]+$/, '');
    if (trimmed === `--${boundary}--`) {
      if (current) parts.push(current.join('\r\n'));
      return parts;
    }
    if (trimmed === `--${boundary}`) {
      if (current) parts.push(current.join('\r\n'));
      current = [];
      continue;
    }
    current?.push(line);
  }
  // No close delimiter (a truncated report): keep what arrived.
  if (current) parts.push(current.join('\r\n'));
  return parts;
}

export function parseMime(raw: string, depth = 0): MimePart {
  const { header, body } = splitMessage(raw);
  const headers = parseHeaderFields(header);
  const { type, params } = parseContentType(field(headers, 'content-type'));
  const part: MimePart = { headers, contentType: type, params, body, parts: [] };
  if (depth >= MAX_DEPTH) return part;
  if (type.startsWith('multipart/') && params.boundary) {
    part.parts = splitMultipart(body, params.boundary).map((p) => parseMime(p, depth + 1));
  } else if (type === 'message/rfc822' || type === 'message/global') {
    // RFC 2046 §5.2.1 forbids encoding message/rfc822, but some reporters base64 it anyway.
    part.parts = [parseMime(decodeBody(body, field(headers, 'content-transfer-encoding')), depth + 1)];
  } else {
    part.body = decodeBody(body, field(headers, 'content-transfer-encoding'));
  }
  return part;
}

/** Depth-first, the part itself first. */
export function* walk(part: MimePart): Generator<MimePart> {
  yield part;
  for (const p of part.parts) yield* walk(p);
}

/**
 * Why a request body is not an RFC 5322 message, or null when it is one. Only the structure is
 * checked: a header section with fields, no NUL (RFC 5322 §2.1 / RFC 5321 §4.5.2 disallow it),
 * and lines within the 998-octet limit (RFC 5322 §2.1.1) in the header section.
 */
export function invalidMessageReason(raw: string): string | null {
  if (raw.trim().length === 0) return 'empty body: expected a raw RFC 5322 message';
  if (raw.includes('\0')) return 'contains NUL, which RFC 5322 §2.1 does not allow';
  const { header } = splitMessage(raw);
  if (header.split(/\r?\n/).some((l) => l.length > 998)) return 'a header line is longer than 998 characters (RFC 5322 §2.1.1)';
  if (parseHeaderFields(header).length === 0) return 'no header section: expected "Name: value" fields, an empty line, then the body (RFC 5322 §2.1)';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Addresses and the original message

/** The addr-spec of `Name <a@b>`, `<a@b>`, `rfc822; a@b` or `a@b`, lower-cased; null if none. */
export function addressOf(value: string | null): string | null {
  if (!value) return null;
  // RFC 3464 §2.1.2 / RFC 5965 §3.2: typed addresses, `address-type ";" generic-address`.
  const typed = /^\s*(?:rfc822|utf-8)\s*;\s*(.*)$/i.exec(value);
  const text = typed ? typed[1] : value;
  const angle = /<([^<>\s]*)>/.exec(text);
  const candidate = (angle ? angle[1] : text.trim().split(/\s+/)[0] ?? '').replace(/^<|>$/g, '');
  if (angle && candidate === '') return null; // the null reverse-path `<>`
  return /^[^\s@]+@[^\s@]+$/.test(candidate) ? candidate.toLowerCase() : null;
}

/** `<id@host>` as found, angle brackets kept (the form the store keeps). */
export function messageIdOf(value: string | null): string | null {
  const m = value ? /<[^<>\s]+>/.exec(value) : null;
  return m ? m[0] : null;
}

export interface OriginalMessage {
  /** Return-Path added at final delivery (RFC 5321 §4.4): the envelope sender, our VERP address. */
  returnPath: string | null;
  messageId: string | null;
  from: string | null;
  to: string[];
  subject: string | null;
}

function originalOf(headers: HeaderField[]): OriginalMessage {
  return {
    returnPath: addressOf(field(headers, 'return-path')),
    messageId: messageIdOf(field(headers, 'message-id')),
    from: addressOf(field(headers, 'from')),
    to: fieldsNamed(headers, 'to').flatMap((v) => v.split(',').map(addressOf).filter((a): a is string => a !== null)),
    subject: field(headers, 'subject'),
  };
}

/**
 * The returned original: a message/rfc822 (or message/global, RFC 6532) part, or the headers
 * alone as text/rfc822-headers (RFC 6522 §4; RFC 5965 §2 allows either in an ARF report).
 */
function findOriginal(report: MimePart): OriginalMessage | null {
  for (const p of report.parts) {
    if ((p.contentType === 'message/rfc822' || p.contentType === 'message/global') && p.parts[0]) return originalOf(p.parts[0].headers);
    if (p.contentType === 'text/rfc822-headers' || p.contentType === 'message/global-headers') return originalOf(parseHeaderFields(splitMessage(`${p.body}\r\n\r\n`).header));
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// RFC 5965 ARF and RFC 3464 DSN

/** RFC 5965 §7.3 registry (plus RFC 6430 not-spam, RFC 6591 auth-failure). */
export const FEEDBACK_TYPES = ['abuse', 'fraud', 'virus', 'other', 'not-spam', 'auth-failure'] as const;
/** Types that are a recipient saying "this is unwanted": they suppress and count as complaints. */
const COMPLAINT_TYPES = new Set(['abuse', 'fraud', 'virus']);

export interface ArfReport {
  kind: 'arf';
  /** RFC 5965 §3.1 Feedback-Type, lower-cased. */
  feedbackType: string;
  complaint: boolean;
  userAgent: string | null;
  version: string | null;
  /** RFC 5965 §3.2 Original-Mail-From: the envelope sender of the reported message. */
  originalMailFrom: string | null;
  originalRcptTo: string[];
  arrivalDate: string | null;
  reportingMta: string | null;
  sourceIp: string | null;
  reportedDomain: string | null;
  original: OriginalMessage | null;
}

export interface DsnRecipient {
  /** RFC 3464 §2.3.2 Final-Recipient (required), lower-cased addr-spec. */
  finalRecipient: string | null;
  originalRecipient: string | null;
  /** §2.3.3: failed | delayed | delivered | relayed | expanded. */
  action: string;
  /** §2.3.4 Status, an RFC 3463 code like 5.1.1. */
  status: string | null;
  /** §2.3.6 Diagnostic-Code with its type (`smtp`): the remote server's reply. */
  diagnosticType: string | null;
  diagnostic: string | null;
  remoteMta: string | null;
  /** RFC 3464 §2.3.3 + RFC 3463 §3.1: action failed with a 5.x.x status is permanent. */
  permanent: boolean;
}

export interface DsnReport {
  kind: 'dsn';
  /** RFC 3464 §2.2.2 Reporting-MTA (required), without its type. */
  reportingMta: string | null;
  originalEnvelopeId: string | null;
  arrivalDate: string | null;
  recipients: DsnRecipient[];
  original: OriginalMessage | null;
}

export interface UnknownReport {
  kind: 'unknown';
  reason: string;
  original: OriginalMessage | null;
}

export interface ParsedFeedback {
  report: ArfReport | DsnReport | UnknownReport;
  /**
   * Where the report itself was addressed: a DSN goes to the envelope sender (RFC 3464 §2,
   * RFC 5321 §4.5.5), our VERP address; intake MTAs record it in Delivered-To / X-Original-To.
   */
  addressedTo: string[];
  /** The report's own Message-ID, for logs and de-duplication. */
  reportMessageId: string | null;
  /** VERP candidates, most reliable first: report envelope, then what the report says. */
  verpCandidates: string[];
}

/** Field groups separated by empty lines (RFC 3464 §2.1 and RFC 5965 §3 share this layout). */
function fieldGroups(text: string): HeaderField[][] {
  return text
    .split(/\r?\n(?:[ \t]*\r?\n)+/)
    .map((block) => parseHeaderFields(block))
    .filter((g) => g.length > 0);
}

const untyped = (v: string | null) => (v ? v.replace(/^\s*[\w-]+\s*;\s*/, '').trim() : null);

function parseArf(report: MimePart, fbPart: MimePart): ArfReport {
  const fields = fieldGroups(fbPart.body).flat();
  const feedbackType = (field(fields, 'feedback-type') ?? '').toLowerCase();
  return {
    kind: 'arf',
    feedbackType,
    complaint: COMPLAINT_TYPES.has(feedbackType),
    userAgent: field(fields, 'user-agent'),
    version: field(fields, 'version'),
    originalMailFrom: addressOf(field(fields, 'original-mail-from')),
    originalRcptTo: fieldsNamed(fields, 'original-rcpt-to').map(addressOf).filter((a): a is string => a !== null),
    arrivalDate: field(fields, 'arrival-date') ?? field(fields, 'received-date'),
    reportingMta: untyped(field(fields, 'reporting-mta')),
    sourceIp: field(fields, 'source-ip'),
    reportedDomain: field(fields, 'reported-domain'),
    original: findOriginal(report),
  };
}

function parseDsn(report: MimePart, statusPart: MimePart): DsnReport {
  const [perMessage = [], ...perRecipient] = fieldGroups(statusPart.body);
  const recipients = perRecipient.map((g): DsnRecipient => {
    const action = (field(g, 'action') ?? '').toLowerCase().split(/\s/)[0];
    const status = /^([245])\.\d{1,3}\.\d{1,3}/.exec(field(g, 'status') ?? '')?.[0] ?? null;
    const diag = field(g, 'diagnostic-code');
    const typed = diag ? /^\s*([\w-]+)\s*;\s*(.*)$/s.exec(diag) : null;
    return {
      finalRecipient: addressOf(field(g, 'final-recipient')),
      originalRecipient: addressOf(field(g, 'original-recipient')),
      action,
      status,
      diagnosticType: typed ? typed[1].toLowerCase() : null,
      diagnostic: typed ? typed[2].trim() : diag,
      remoteMta: untyped(field(g, 'remote-mta')),
      permanent: action === 'failed' && status?.startsWith('5.') === true,
    };
  });
  return {
    kind: 'dsn',
    reportingMta: untyped(field(perMessage, 'reporting-mta')),
    originalEnvelopeId: field(perMessage, 'original-envelope-id'),
    arrivalDate: field(perMessage, 'arrival-date'),
    recipients,
    original: findOriginal(report),
  };
}

/**
 * Finds the report in a message: the top level or a forwarded one inside (FBL mailboxes often
 * wrap reports in a multipart/mixed). RFC 6522 §3: multipart/report names its report-type.
 */
export function parseFeedback(raw: string): ParsedFeedback {
  const root = parseMime(raw);
  const addressedTo = ['x-original-to', 'delivered-to', 'envelope-to', 'to']
    .flatMap((n) => fieldsNamed(root.headers, n).flatMap((v) => v.split(',')))
    .map(addressOf)
    .filter((a): a is string => a !== null);
  const reportMessageId = messageIdOf(field(root.headers, 'message-id'));

  let report: ParsedFeedback['report'] | null = null;
  for (const part of walk(root)) {
    if (part.contentType !== 'multipart/report') continue;
    const reportType = (part.params['report-type'] ?? '').toLowerCase();
    const find = (...types: string[]) => part.parts.find((p) => types.includes(p.contentType));
    if (reportType === 'feedback-report') {
      const fb = find('message/feedback-report');
      if (fb) report = parseArf(part, fb);
    } else if (reportType === 'delivery-status') {
      // RFC 6533 message/global-delivery-status is the UTF-8 form of the same fields.
      const ds = find('message/delivery-status', 'message/global-delivery-status');
      if (ds) report = parseDsn(part, ds);
    }
    if (report) break;
    report = { kind: 'unknown', reason: `multipart/report with report-type=${reportType || '(none)'} and no part to read`, original: findOriginal(part) };
  }
  if (!report) {
    const attached = [...walk(root)].find((p) => p !== root && (p.contentType === 'message/rfc822' || p.contentType === 'text/rfc822-headers'));
    report = {
      kind: 'unknown',
      reason: 'not a multipart/report (RFC 6522): neither an ARF report (RFC 5965) nor a DSN (RFC 3464)',
      original: attached ? findOriginal({ ...root, parts: [attached] }) : null,
    };
  }

  const candidates = [
    ...addressedTo,
    report.kind === 'arf' ? report.originalMailFrom : null,
    report.original?.returnPath ?? null,
  ].filter((a): a is string => a !== null);
  return { report, addressedTo, reportMessageId, verpCandidates: [...new Set(candidates)] };
}
