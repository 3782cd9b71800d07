/**
 * Where a webhook may go: http(s) URLs whose host resolves only to public addresses. Refused:
 * loopback, private (RFC 1918), link-local (cloud metadata 169.254.169.254 included), CGNAT
 * (100.64/10), ULA (fc00::/7), unspecified, multicast, reserved and documentation ranges, and
 * IPv4 inside IPv6 (mapped, NAT64) by the IPv4 rules, unless the operator allows a range
 * (POSTLANE_WEBHOOK_ALLOW). Checked at creation and at every delivery, after DNS; the sender
 * connects to the address that was checked, so a rebinding answer cannot slip in between.
 *
 * Pure: the resolver is injected (Node: node:dns in edge/adapters/webhook-http.ts).
 */

export interface Cidr {
  v6: boolean;
  /** The address as a big integer (128 bits for IPv6, 32 for IPv4). */
  base: bigint;
  bits: number;
  text: string;
}

export type Resolve = (host: string) => Promise<string[]>;

function parseV4(s: string): bigint | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0n;
  for (const part of m.slice(1)) {
    const n = Number(part);
    if (n > 255 || (part.length > 1 && part.startsWith('0'))) return null;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(input: string): bigint | null {
  let s = input.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!s.includes(':')) return null;
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (tail) {
    const v4 = parseV4(tail[1]);
    if (v4 === null) return null;
    s = `${s.slice(0, -tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    v = (v << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return v;
}

/** An IP literal: family and value; null when the text is not one. */
export function parseIp(s: string): { v6: boolean; value: bigint } | null {
  const v4 = parseV4(s);
  if (v4 !== null) return { v6: false, value: v4 };
  const v6 = parseV6(s);
  return v6 === null ? null : { v6: true, value: v6 };
}

export function parseCidr(text: string): Cidr | null {
  const [addr, len, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const max = ip.v6 ? 128 : 32;
  const bits = len === undefined ? max : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (len !== undefined && !/^\d+$/.test(len))) return null;
  return { v6: ip.v6, base: ip.value, bits, text: text.trim() };
}

function within(ip: { v6: boolean; value: bigint }, c: Cidr): boolean {
  if (ip.v6 !== c.v6) return false;
  const width = BigInt(c.v6 ? 128 : 32);
  const shift = width - BigInt(c.bits);
  return ip.value >> shift === c.base >> shift;
}

const cidrs = (list: string[]) => list.map((t) => parseCidr(t)!);

/** [range, why] — what is never a webhook destination unless allowed. */
const BLOCKED_V4: Array<[Cidr, string]> = [
  ['0.0.0.0/8', 'unspecified'], ['10.0.0.0/8', 'private'], ['100.64.0.0/10', 'CGNAT'], ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'], ['172.16.0.0/12', 'private'], ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'], ['192.88.99.0/24', '6to4 relay'], ['192.168.0.0/16', 'private'], ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'], ['203.0.113.0/24', 'documentation'], ['224.0.0.0/4', 'multicast'], ['240.0.0.0/4', 'reserved'],
].map(([c, why]) => [cidrs([c])[0], why]);
const BLOCKED_V6: Array<[Cidr, string]> = [
  ['::/128', 'unspecified'], ['::1/128', 'loopback'], ['fc00::/7', 'unique local (ULA)'], ['fe80::/10', 'link-local'], ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'], ['2001:db8::/32', 'documentation'], ['100::/64', 'discard'], ['fd00:ec2::254/128', 'cloud metadata'],
].map(([c, why]) => [cidrs([c])[0], why]);
/** IPv6 forms that carry an IPv4 address in their low 32 bits: judged by that address. */
const EMBEDS_V4 = cidrs(['::ffff:0:0/96', '64:ff9b::/96', '::/96']);

/** Why an address may not be a destination, or null when it may. */
export function blockedReason(address: string, allow: readonly Cidr[] = []): string | null {
  const ip = parseIp(address);
  if (!ip) return `${address} is not an IP address`;
  if (allow.some((c) => within(ip, c))) return null;
  if (ip.v6) {
    if (EMBEDS_V4.some((c) => within(ip, c)) && ip.value !== 0n && ip.value !== 1n) {
      const v4 = ip.value & 0xffffffffn;
      return blockedReason([24n, 16n, 8n, 0n].map((s) => String((v4 >> s) & 255n)).join('.'), allow);
    }
    const hit = BLOCKED_V6.find(([c]) => within(ip, c));
    return hit ? `${address} is a ${hit[1]} address` : null;
  }
  const hit = BLOCKED_V4.find(([c]) => within(ip, c));
  return hit ? `${address} is a ${hit[1]} address` : null;
}

export interface CheckedTarget {
  url: URL;
  /** The checked address to connect to, and its family. */
  address: string;
  family: 4 | 6;
}

/**
 * Checks a webhook URL end to end: scheme, host, DNS, every address it resolves to. Throws an
 * Error whose message says what is wrong (the route turns it into a 400 naming `url`).
 */
export async function checkTarget(raw: string, resolve: Resolve, allow: readonly Cidr[]): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`must be http or https, not ${url.protocol.slice(0, -1)}`);
  if (url.username || url.password) throw new Error('must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new Error('has no host');
  let addresses: string[];
  if (parseIp(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      throw new Error(`host ${host} does not resolve (${(error as Error).message})`);
    }
    if (addresses.length === 0) throw new Error(`host ${host} has no address`);
  }
  for (const a of addresses) {
    const why = blockedReason(a, allow);
    if (why) throw new Error(`host ${host} is not allowed: ${why}`);
  }
  const address = addresses[0];
  return { url, address, family: parseIp(address)!.v6 ? 6 : 4 };
}
