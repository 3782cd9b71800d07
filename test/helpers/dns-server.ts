/**
 * A small authoritative DNS server on loopback UDP for tests, on the `dns-packet` codec: answers
 * TXT, MX, A, AAAA and CNAME from a zone map so code that resolves names runs against a real
 * resolver (node:dns with `setServers`) and never leaves the machine. A name can also answer
 * NXDOMAIN, SERVFAIL, or nothing at all (the client times out). Null MX per RFC 7505.
 */
import { createSocket, type Socket } from 'node:dgram';
import * as packet from 'dns-packet';

export interface ZoneEntry {
  /** MX exchanges by preference; `'.'` alone is a null MX. */
  mx?: Array<{ preference: number; exchange: string }>;
  a?: string[];
  aaaa?: string[];
  /** TXT records, each one string (split into 255-byte character-strings on the wire) or its strings. */
  txt?: Array<string | string[]>;
  /** The name is an alias; the answer carries the CNAME (the resolver follows it no further). */
  cname?: string;
  /** Answer NXDOMAIN (rcode 3) for this name, even under a `*` catch-all. */
  nxdomain?: boolean;
  /** Answer SERVFAIL (rcode 2) for this name. */
  servfail?: boolean;
  /** Never answer: the client's query times out. */
  timeout?: boolean;
}

export interface TestDnsServer {
  /** `127.0.0.1:port`, for node:dns `setServers`. */
  address: string;
  zone: Map<string, ZoneEntry>;
  /** Sets (or replaces) a name's entry; names are case-insensitive. */
  set(name: string, entry: ZoneEntry): void;
  /** Adds a TXT record to a name (creating its entry). */
  addTxt(name: string, value: string): void;
  stop(): Promise<void>;
}

/** RFC 1035 §3.3: a character-string is at most 255 bytes; longer TXT data spans several. */
function characterStrings(value: string | string[]): Buffer[] {
  if (Array.isArray(value)) return value.map((s) => Buffer.from(s));
  const bytes = Buffer.from(value);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out.length ? out : [Buffer.alloc(0)];
}

function answersFor(q: packet.Question, entry: ZoneEntry): packet.Answer[] {
  const base = { name: q.name, ttl: 300, class: 'IN' as const };
  if (entry.cname) return [{ ...base, type: 'CNAME', data: entry.cname }];
  switch (q.type) {
    case 'MX':
      return (entry.mx ?? []).map((m) => ({ ...base, type: 'MX' as const, data: { preference: m.preference, exchange: m.exchange === '.' ? '' : m.exchange } }));
    case 'A':
      return (entry.a ?? []).map((a) => ({ ...base, type: 'A' as const, data: a }));
    case 'AAAA':
      return (entry.aaaa ?? []).map((a) => ({ ...base, type: 'AAAA' as const, data: a }));
    case 'TXT':
      return (entry.txt ?? []).map((t) => ({ ...base, type: 'TXT' as const, data: characterStrings(t) }));
    default:
      return [];
  }
}

function answer(msg: Buffer, zone: Map<string, ZoneEntry>): Buffer | null {
  let query: packet.Packet;
  try {
    query = packet.decode(msg);
  } catch {
    return null;
  }
  const q = query.questions?.[0];
  if (!q) return null;
  const name = q.name.toLowerCase().replace(/\.$/, '');
  // `*` answers for every name not listed (a catch-all zone for tests that don't care).
  const entry = zone.get(name) ?? zone.get('*');
  if (entry?.timeout) return null;
  // dns-packet encodes the rcode only from the flags' low four bits (RFC 1035 §4.1.1).
  let rcode = 0;
  let answers: packet.Answer[] = [];
  if (!entry || entry.nxdomain) rcode = 3; // NXDOMAIN
  else if (entry.servfail) rcode = 2; // SERVFAIL
  else answers = answersFor(q, entry);
  const recursion = ((query.flags ?? 0) & packet.RECURSION_DESIRED) !== 0;
  return packet.encode({
    id: query.id,
    type: 'response',
    flags: packet.AUTHORITATIVE_ANSWER | (recursion ? packet.RECURSION_DESIRED : 0) | rcode,
    questions: [q],
    answers,
  } as packet.Packet);
}

export async function startDnsServer(entries: Record<string, ZoneEntry> = {}): Promise<TestDnsServer> {
  const zone = new Map(Object.entries(entries).map(([k, v]) => [k.toLowerCase(), v]));
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = answer(msg, zone);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    zone,
    set(name, entry) {
      zone.set(name.toLowerCase(), entry);
    },
    addTxt(name, value) {
      const key = name.toLowerCase();
      const entry = zone.get(key) ?? {};
      zone.set(key, { ...entry, txt: [...(entry.txt ?? []), value] });
    },
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
