/**
 * MTA-STS (RFC 8461) as text, with no I/O: the `_mta-sts` TXT record (§3.1), the policy file
 * served at `https://mta-sts.<domain>/.well-known/mta-sts.txt` (§3.2), and MX pattern matching
 * (§4.1). The MTA node parses what recipient domains publish; the edge serialises the policy it
 * hosts for its tenants' domains. Pure, so both runtimes use the same code.
 */

export type StsMode = 'enforce' | 'testing' | 'none';
export const STS_MODES: readonly StsMode[] = ['enforce', 'testing', 'none'];

export interface StsPolicy {
  mode: StsMode;
  /** MX patterns: a host name, or `*.` followed by one (matches exactly one more label). */
  mx: string[];
  /** Seconds the policy may be cached (RFC 8461 §3.2: up to 31557600, one year). */
  maxAge: number;
}

/** RFC 8461 §3.2: max_age is at most 31557600 seconds. */
export const STS_MAX_AGE_LIMIT = 31_557_600;
/** RFC 8461 §3.3: policy bodies are small; 64 KiB is what a sender need read. */
export const STS_POLICY_MAX_BYTES = 64 * 1024;
export const STS_POLICY_PATH = '/.well-known/mta-sts.txt';

/** RFC 8461 §3.1: `id` is 1-32 alphanumeric characters. */
const ID = /^[A-Za-z0-9]{1,32}$/;
/** A DNS label (RFC 1123), for the host part of an MX pattern. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export type StsTxtParse = { ok: true; id: string } | { ok: false; error: string };

/**
 * The `_mta-sts.<domain>` TXT answer, each record given as its joined strings (RFC 8461 §3.1):
 * records not starting with `v=STSv1` are ignored; anything but exactly one left, or one that
 * does not parse, means the domain has no policy.
 */
export function parseStsTxt(records: string[]): StsTxtParse {
  const sts = records.filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length === 0) return { ok: false, error: 'no v=STSv1 record' };
  if (sts.length > 1) return { ok: false, error: `${sts.length} v=STSv1 records (RFC 8461 §3.1 requires one)` };
  let id: string | null = null;
  for (const field of sts[0].split(';').slice(1)) {
    const f = field.trim();
    if (!f) continue;
    const eq = f.indexOf('=');
    if (eq <= 0) return { ok: false, error: `malformed field "${f}"` };
    const key = f.slice(0, eq).trim();
    const value = f.slice(eq + 1).trim();
    if (key === 'id') {
      if (!ID.test(value)) return { ok: false, error: `id "${value}" is not 1-32 letters and digits` };
      id = value;
    }
  }
  return id ? { ok: true, id } : { ok: false, error: 'the record has no id' };
}

/** The TXT value a domain publishes for a policy id. */
export function stsTxtValue(id: string): string {
  return `v=STSv1; id=${id}`;
}

/** True for a valid MX pattern: a host name or `*.` + host name (RFC 8461 §3.2, §4.1). */
export function isMxPattern(pattern: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const host = p.startsWith('*.') ? p.slice(2) : p;
  const labels = host.split('.');
  return host.length <= 253 && labels.length >= 2 && labels.every((l) => LABEL.test(l));
}

export type StsPolicyParse = { ok: true; policy: StsPolicy } | { ok: false; error: string };

/**
 * The policy file (RFC 8461 §3.2): `key: value` lines separated by CRLF or LF. `version: STSv1`,
 * `mode`, `max_age` and (unless mode is none) at least one `mx` are required; unknown keys are
 * ignored (for extensions).
 */
export function parseStsPolicy(text: string): StsPolicyParse {
  let version: string | null = null;
  let mode: string | null = null;
  let maxAge: string | null = null;
  const mx: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, error: `line "${line.slice(0, 80)}" is not key: value` };
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'version') version = value;
    else if (key === 'mode') mode = value;
    else if (key === 'max_age') maxAge = value;
    else if (key === 'mx') mx.push(value.toLowerCase().replace(/\.$/, ''));
  }
  if (version !== 'STSv1') return { ok: false, error: version === null ? 'no version field' : `version "${version}" is not STSv1` };
  if (!STS_MODES.includes(mode as StsMode)) return { ok: false, error: mode === null ? 'no mode field' : `mode "${mode}" is not enforce, testing or none` };
  if (maxAge === null || !/^\d{1,10}$/.test(maxAge) || Number(maxAge) > STS_MAX_AGE_LIMIT) {
    return { ok: false, error: maxAge === null ? 'no max_age field' : `max_age "${maxAge}" is not 0-${STS_MAX_AGE_LIMIT}` };
  }
  const bad = mx.find((p) => !isMxPattern(p));
  if (bad !== undefined) return { ok: false, error: `mx "${bad}" is not a host name or *.host pattern` };
  if (mode !== 'none' && mx.length === 0) return { ok: false, error: `mode ${mode} needs at least one mx field` };
  return { ok: true, policy: { mode: mode as StsMode, mx, maxAge: Number(maxAge) } };
}

/** The policy file's text (RFC 8461 §3.2), CRLF line ends, fields in the RFC's order. */
export function serializeStsPolicy(policy: StsPolicy): string {
  const lines = ['version: STSv1', `mode: ${policy.mode}`, ...policy.mx.map((p) => `mx: ${p}`), `max_age: ${policy.maxAge}`];
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * RFC 8461 §4.1: an MX host matches a pattern exactly, or a `*.` pattern when the host has
 * exactly one more leftmost label (`*.example.com` matches `mx.example.com`, not
 * `example.com` nor `a.b.example.com`). Case-insensitive; trailing dots ignored.
 */
export function mxMatchesPattern(host: string, pattern: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return h === p;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

export function mxMatchesPolicy(host: string, policy: Pick<StsPolicy, 'mx'>): boolean {
  return policy.mx.some((p) => mxMatchesPattern(host, p));
}
