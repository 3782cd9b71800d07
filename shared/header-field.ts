/**
 * Header fields as they go on the wire (RFC 5322 §2.2, §3.2.2, RFC 2047, RFC 2231), with Web APIs
 * only so the same code runs in workerd.
 *
 * Why not a library: nodemailer's libmime and mail-composer do this well but need Node's Buffer
 * and streams, and the Worker bundle runs without `nodejs_compat`; the browser-side builders we
 * looked at do not fold at all. The rules are small and tested with a property test against
 * mailparser (test/unit/mime-headers.test.ts).
 *
 * - Every value that becomes part of a header (names, values, file names, content ids, display
 *   names, tags) passes `headerTextProblem` first: CR, LF, NUL or any other control character in
 *   it could end the field and start another (header injection).
 * - Lines stay within 78 characters where white space allows and never exceed 998 octets
 *   (RFC 5322 §2.1.1): folding inserts CRLF before white space (§2.2.3), so unfolding gives back
 *   the value exactly; an unbreakable run too long for one line is sent as RFC 2047 encoded-words.
 */
import { base64 } from './ids.ts';

const CRLF = '\r\n';
const encoder = new TextEncoder();
/** RFC 5322 §2.1.1: SHOULD be no more than 78 characters, MUST be no more than 998. */
const SOFT_LIMIT = 78;
const HARD_LIMIT = 998;
/** Longest unbroken run folding may leave on a line of its own (the rest is the field name and slack). */
const LONGEST_RUN = 900;

export const isPrintableAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

/** Why `value` cannot go into a header, or null. Horizontal tab is allowed (it is white space). */
export function headerTextProblem(value: string): string | null {
  if (/[\r\n]/.test(value)) return 'contains CR or LF (header injection)';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(value)) return 'contains a control character';
  return null;
}

/** RFC 2392 content id (without the angle brackets): dot-atom text, optionally @ and more of it. */
export function contentIdProblem(value: string): string | null {
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(?:@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+)?$/.test(value)) {
    return 'must be a content id like part1.abc@example.com (RFC 2392): letters, digits and !#$%&\'*+/=?^_`{|}~.- with at most one @, no spaces or brackets';
  }
  return null;
}

/** The longest run of non-white-space characters in `s`. */
function longestRun(s: string): number {
  let longest = 0;
  for (const run of s.split(/[ \t]+/)) longest = Math.max(longest, run.length);
  return longest;
}

/**
 * RFC 2047 §4.1 B-encoded words, each within 75 characters, separated by folding white space
 * (which a decoder drops between adjacent encoded-words, RFC 2047 §6.2).
 */
export function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    // 45 octets of UTF-8 → 60 base64 characters + 12 for =?UTF-8?B?…?= = 72.
    if (encoder.encode(chunk + ch).length > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${base64(encoder.encode(w))}?=`).join(`${CRLF} `);
}

/** Unstructured text (RFC 5322 §3.2.5, e.g. Subject): as is when it can be folded, else encoded-words. */
export function headerText(text: string): string {
  return isPrintableAscii(text) && longestRun(text) <= LONGEST_RUN && !/^\s|\s$/.test(text) ? text : encodedWords(text);
}

/**
 * `Name: value` folded (RFC 5322 §2.2.3): CRLF goes before a space or tab once a line passes 78
 * characters. The value's own folds (CRLF + white space) are kept as they are.
 */
export function foldField(name: string, value: string): string {
  return `${name}: ${value}`
    .split(CRLF)
    .map(foldLine)
    .join(CRLF);
}

function foldLine(line: string): string {
  if (line.length <= SOFT_LIMIT) return line;
  const pieces = line.split(/(?=[ \t])/);
  const lines: string[] = [];
  let current = '';
  for (const piece of pieces) {
    // Never fold before the first piece of a line (a line of white space only is not allowed).
    if (current.length > 0 && current.length + piece.length > SOFT_LIMIT && current.trim() !== '') {
      lines.push(current);
      current = piece;
    } else {
      current += piece;
    }
  }
  lines.push(current);
  for (const l of lines) {
    if (encoder.encode(l).length > HARD_LIMIT) throw new Error(`header line over ${HARD_LIMIT} octets cannot be folded: ${l.slice(0, 40)}…`);
  }
  return lines.join(CRLF);
}

/** RFC 2045 §5.1 quoted-string for a parameter value: backslash and quote escaped. */
function quoted(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/** RFC 2231 §4 percent-encoding of UTF-8 (attribute-char stays as is). */
function percentEncode(value: string): string {
  let out = '';
  for (const b of encoder.encode(value)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9!#$&+.^_`|~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * `; name=value` for a MIME parameter (RFC 2045 §5.1): a quoted-string when the value is short
 * printable ASCII, else RFC 2231 §3-4 continuations of percent-encoded UTF-8
 * (`name*0*=utf-8''…; name*1*=…`), so every piece fits on a line and any file name survives.
 */
export function mimeParameter(name: string, value: string): string {
  if (isPrintableAscii(value) && value.length <= 60) return `; ${name}=${quoted(value)}`;
  const encoded = percentEncode(value);
  const pieces: string[] = [];
  // Split outside a %XX escape so each continuation decodes on its own line.
  for (let i = 0; i < encoded.length; ) {
    let end = Math.min(encoded.length, i + 60);
    if (encoded[end - 1] === '%') end -= 1;
    else if (encoded[end - 2] === '%') end -= 2;
    pieces.push(encoded.slice(i, end));
    i = end;
  }
  return pieces.map((p, i) => `;${CRLF} ${name}*${i}*=${i === 0 ? "utf-8''" : ''}${p}`).join('');
}
