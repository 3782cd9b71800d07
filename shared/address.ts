/**
 * Mailbox parsing and validation for the API. Limits are RFC 5321 §4.5.3.1 (local part 64
 * octets, domain 255, path 256 including the angle brackets, so 254 for the address); syntax is
 * RFC 5322 §3.4.1 dot-atom (quoted local parts are refused: real senders never need them and
 * they are a classic smuggling vector). Internationalised domains (IDNA 2008 via the WHATWG URL
 * parser, available in every runtime) are converted to their A-label form.
 */
import { headerTextProblem } from './header-field.ts';

export interface Mailbox {
  /** Display name, as given (may be non-ASCII; encoded at MIME build time). */
  name: string | null;
  /** local@domain with the domain in ASCII (A-labels), lower-cased. */
  address: string;
  local: string;
  domain: string;
}

export type MailboxInput = string | { email: string; name?: string | null };

export type ParseResult = { ok: true; mailbox: Mailbox } | { ok: false; reason: string };

const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;

export function asciiDomain(domain: string): string | null {
  const trimmed = domain.trim().replace(/\.$/, '');
  if (!trimmed || trimmed.length > 255 || /[\s/\\?#@:[\]]/.test(trimmed)) return null;
  let ascii: string;
  try {
    ascii = new URL(`http://${trimmed}`).hostname;
  } catch {
    return null;
  }
  if (ascii.length > 255) return null;
  const labels = ascii.split('.');
  if (labels.length < 2) return null;
  for (const label of labels) {
    // RFC 1035 §2.3.4 label length; RFC 952/1123 letters, digits, hyphen, no edge hyphen.
    if (label.length === 0 || label.length > 63) return null;
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label)) return null;
  }
  if (/^\d+$/.test(labels[labels.length - 1])) return null; // an IP literal, not a domain
  return ascii;
}

export function parseMailbox(input: MailboxInput): ParseResult {
  let name: string | null = null;
  let spec: string;
  if (typeof input === 'string') {
    const m = /^\s*(?:"?([^"<]*?)"?\s*)?<([^<>]+)>\s*$/.exec(input);
    if (m) {
      name = m[1]?.trim() || null;
      spec = m[2];
    } else {
      spec = input.trim();
    }
  } else {
    spec = input.email.trim();
    name = input.name?.trim() || null;
  }
  const nameProblem = name === null ? null : headerTextProblem(name);
  if (nameProblem) return { ok: false, reason: `display name ${nameProblem}` };
  if (/[\r\n\0]/.test(spec)) return { ok: false, reason: 'address contains CR, LF or NUL' };
  const at = spec.lastIndexOf('@');
  if (at <= 0 || at === spec.length - 1) return { ok: false, reason: 'address must be local@domain' };
  const local = spec.slice(0, at);
  const domain = asciiDomain(spec.slice(at + 1));
  if (local.length > 64) return { ok: false, reason: 'local part is longer than 64 octets (RFC 5321 §4.5.3.1.1)' };
  if (!local.split('.').every((atom) => ATEXT.test(atom))) {
    return { ok: false, reason: 'local part is not a dot-atom of ASCII characters (RFC 5322 §3.4.1)' };
  }
  if (!domain) return { ok: false, reason: 'domain is not a valid host name' };
  const address = `${local}@${domain}`;
  if (address.length > 254) return { ok: false, reason: 'address is longer than 254 octets (RFC 5321 §4.5.3.1.3)' };
  return { ok: true, mailbox: { name, address, local, domain } };
}
