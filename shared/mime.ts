/**
 * Builds the RFC 5322 message stored at accept time, with Web APIs only (it runs in Workers).
 * Text parts are quoted-printable (RFC 2045 §6.7), attachments base64 (RFC 2045 §6.8); header
 * fields are folded and encoded by header-field.ts (RFC 5322 §2.2.3, RFC 2047, RFC 2231), so every
 * line ends in CRLF and stays within 998 octets (RFC 5322 §2.1.1). The message is built once so
 * every retry sends the same bytes.
 */
import type { Mailbox } from './address.ts';
import { randomChars } from './ids.ts';
import { encodedWords, foldField, headerText, mimeParameter } from './header-field.ts';

export interface MimeAttachment {
  filename: string;
  contentType: string;
  /** Base64 content as received from the API. */
  contentBase64: string;
  contentId?: string | null;
}

export interface MimeInput {
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  replyTo: Mailbox[];
  subject: string;
  text: string | null;
  html: string | null;
  headers: Record<string, string>;
  attachments: MimeAttachment[];
  messageId: string;
  date: Date;
}

const CRLF = '\r\n';
const encoder = new TextEncoder();

export function formatMailbox(m: Mailbox): string {
  if (!m.name) return m.address;
  const name = headerText(m.name) !== m.name
    ? encodedWords(m.name)
    : /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$/.test(m.name)
      ? m.name
      : `"${m.name.replace(/(["\\])/g, '\\$1')}"`;
  return `${name} <${m.address}>`;
}

/** Each byte's quoted-printable token (RFC 2045 §6.7 rules 1-2): itself when printable, else =XX. */
const QP_TOKEN = Array.from({ length: 256 }, (_, b) =>
  (b >= 33 && b <= 126 && b !== 61) || b === 0x20 || b === 0x09 ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`,
);
/** A line that needs no encoding at all: printable ASCII without "=", not ending in white space (rule 3). */
const QP_LITERAL_LINE = /^[	 -<>-~]*[!-<>-~]$/;
/** Encoded lines stay within 76 characters (rule 5): 75 plus the soft break's "=". */
const QP_LINE = 75;

/** RFC 2045 §6.7 quoted-printable with soft line breaks at 76 characters. */
export function quotedPrintable(text: string): string {
  const lines = text.replace(/\r\n|\r|\n/g, '\n').split('\n');
  return lines.map(quotedPrintableLine).join(CRLF);
}

function quotedPrintableLine(line: string): string {
  if (line === '') return '';
  if (QP_LITERAL_LINE.test(line)) {
    if (line.length <= QP_LINE) return line;
    const parts: string[] = [];
    for (let i = 0; i < line.length; i += QP_LINE) parts.push(line.slice(i, i + QP_LINE));
    return parts.join(`=${CRLF}`);
  }
  let out = '';
  let lineLen = 0;
  const bytes = encoder.encode(line);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const token = (b === 0x20 || b === 0x09) && i === bytes.length - 1 ? (b === 0x20 ? '=20' : '=09') : QP_TOKEN[b];
    if (lineLen + token.length > QP_LINE) {
      out += `=${CRLF}`;
      lineLen = 0;
    }
    out += token;
    lineLen += token.length;
  }
  return out;
}

function wrapBase64(b64: string): string {
  return b64.replace(/.{1,76}/g, (m) => m + CRLF).replace(/\r\n$/, '');
}

function boundary(): string {
  // RFC 2046 §5.1.1: "=_" cannot occur in quoted-printable text, so no body line matches it.
  return `=_pl_${randomChars(24)}`;
}

function textPart(contentType: string, body: string): string {
  return [
    `Content-Type: ${contentType}; charset=utf-8`,
    'Content-Transfer-Encoding: quoted-printable',
    '',
    quotedPrintable(body),
  ].join(CRLF);
}

function attachmentPart(a: MimeAttachment): string {
  const headers = [
    foldField('Content-Type', `${a.contentType}${mimeParameter('name', a.filename)}`),
    'Content-Transfer-Encoding: base64',
    foldField('Content-Disposition', `${a.contentId ? 'inline' : 'attachment'}${mimeParameter('filename', a.filename)}`),
  ];
  if (a.contentId) headers.push(foldField('Content-ID', `<${a.contentId}>`));
  return [...headers, '', wrapBase64(a.contentBase64.replace(/\s+/g, ''))].join(CRLF);
}

function multipart(subtype: string, parts: string[]): string {
  const b = boundary();
  return [
    `Content-Type: multipart/${subtype}; boundary="${b}"`,
    '',
    ...parts.flatMap((p) => [`--${b}`, p]),
    `--${b}--`,
    '',
  ].join(CRLF);
}

export function buildMime(input: MimeInput): string {
  const list = (mailboxes: Mailbox[]) => mailboxes.map(formatMailbox).join(`,${CRLF} `);
  const head: string[] = [
    foldField('From', formatMailbox(input.from)),
    input.to.length ? foldField('To', list(input.to)) : 'To: undisclosed-recipients:;',
  ];
  if (input.cc.length) head.push(foldField('Cc', list(input.cc)));
  if (input.replyTo.length) head.push(foldField('Reply-To', list(input.replyTo)));
  head.push(
    foldField('Subject', headerText(input.subject)),
    `Date: ${input.date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${input.messageId}>`,
    'MIME-Version: 1.0',
  );
  for (const [name, value] of Object.entries(input.headers)) head.push(foldField(name, headerText(value)));

  const alternatives: string[] = [];
  if (input.text !== null) alternatives.push(textPart('text/plain', input.text));
  if (input.html !== null) alternatives.push(textPart('text/html', input.html));
  let body = alternatives.length > 1 ? multipart('alternative', alternatives) : alternatives[0] ?? textPart('text/plain', '');
  if (input.attachments.length) body = multipart('mixed', [body, ...input.attachments.map(attachmentPart)]);
  return `${head.join(CRLF)}${CRLF}${body}${body.endsWith(CRLF) ? '' : CRLF}`;
}
