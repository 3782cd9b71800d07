/**
 * A tiny authoritative DNS server on loopback UDP for tests: answers MX, A and AAAA from a
 * zone map so code that resolves recipient domains runs against a real resolver (node:dns with
 * `setServers`) and never leaves the machine. Wire format per RFC 1035 §4; null MX per RFC 7505.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface ZoneEntry {
  /** MX exchanges by preference; `'.'` alone is a null MX. */
  mx?: Array<{ preference: number; exchange: string }>;
  a?: string[];
  aaaa?: string[];
  /** Answer NXDOMAIN (rcode 3) for this name, even under a `*` catch-all. */
  nxdomain?: boolean;
  /** Answer SERVFAIL (rcode 2) for this name. */
  servfail?: boolean;
}

export interface TestDnsServer {
  /** `127.0.0.1:port`, for node:dns `setServers`. */
  address: string;
  zone: Map<string, ZoneEntry>;
  stop(): Promise<void>;
}

const TYPE = { A: 1, MX: 15, AAAA: 28 } as const;

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function readQuestion(msg: Buffer): { name: string; type: number; end: number } | null {
  let off = 12;
  const labels: string[] = [];
  while (off < msg.length) {
    const len = msg[off];
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63) return null;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), end: off + 4 };
}

function record(type: number, rdata: Buffer, ttl = 300): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // pointer to the question name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(ttl, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

function answer(query: Buffer, zone: Map<string, ZoneEntry>): Buffer | null {
  if (query.length < 12) return null;
  const q = readQuestion(query);
  if (!q) return null;
  // `*` answers for every name not listed (a catch-all zone for tests that don't care).
  const entry = zone.get(q.name) ?? zone.get('*');
  let rcode = 0;
  const answers: Buffer[] = [];
  if (!entry || entry.nxdomain) rcode = 3; // NXDOMAIN
  else if (entry.servfail) rcode = 2;
  else if (q.type === TYPE.MX) {
    for (const mx of entry.mx ?? []) {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(mx.preference);
      answers.push(record(TYPE.MX, Buffer.concat([pref, mx.exchange === '.' ? Buffer.from([0]) : encodeName(mx.exchange)])));
    }
  } else if (q.type === TYPE.A) {
    for (const a of entry.a ?? []) answers.push(record(TYPE.A, Buffer.from(a.split('.').map(Number))));
  } else if (q.type === TYPE.AAAA) {
    for (const a of entry.aaaa ?? []) answers.push(record(TYPE.AAAA, ipv6Bytes(a)));
  }
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, AA, RD echoed
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, q.end), ...answers]);
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
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
