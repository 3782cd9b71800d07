/**
 * Parsing of SMTP replies into their parts. RFC 5321 §4.2 gives the three-digit code
 * (multi-line replies repeat it with '-' continuation); RFC 3463 gives the enhanced status
 * code `class.subject.detail` that, when present, starts the text (RFC 2034).
 */
import type { SmtpReply } from './protocol.ts';

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})\b/;

export function parseSmtpReply(raw: string): SmtpReply | null {
  const lines = raw.replace(/\r/g, '').split('\n').filter((l) => l.length > 0);
  if (lines.length === 0) return null;
  const first = /^([2-5]\d\d)[ -]?(.*)$/.exec(lines[0]);
  if (!first) return null;
  const code = Number(first[1]);
  const texts = lines.map((l) => l.replace(/^[2-5]\d\d[ -]?/, ''));
  const enhancedMatch = ENHANCED.exec(texts[0]);
  const enhanced = enhancedMatch ? enhancedMatch[0] : null;
  // Continuation lines usually repeat the enhanced code; keep it once.
  const text = texts
    .map((t) => (enhanced && t.startsWith(enhanced) ? t.slice(enhanced.length).trimStart() : t))
    .join(' ')
    .slice(0, 4096);
  return { code, enhanced, text };
}

/** The reply as one line, the way it reads in a trace: `421 4.7.28 text`. */
export function formatSmtpReply(reply: SmtpReply): string {
  return [String(reply.code), reply.enhanced, reply.text].filter(Boolean).join(' ');
}
