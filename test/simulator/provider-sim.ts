/**
 * A mailbox-provider simulator for tests: one smtp-server per provider on 127.0.0.1, reached
 * through the MTA node's static routes (recipient domain → host:port). Each behaves like the big
 * receivers do, with their real reply codes and wording (the provider-replies reference gathered for the spec (shared reference notes)):
 *
 * - throttles past N accepted messages per sliding window per source IP (Gmail 421 4.7.28,
 *   Microsoft 451 4.7.650, Yahoo 421 4.7.0 [TSS04], others a generic 421 4.7.0 rate limit);
 * - caps concurrent connections (421 at connect);
 * - defers at random, seeded so a run is reproducible;
 * - rejects unknown users (550 5.1.1 and the provider's own wording);
 * - blocks when the test flips a switch, the way a pool is blocked after complaints
 *   (Microsoft 550 5.7.1 … (S3150), Yahoo 553 5.7.1 [BL21], Gmail 421 4.7.0 low domain reputation);
 * - with `reputation`, judges its senders as the provider does (reputation.ts, behaviours.ts):
 *   per-IP and per-domain rates, throttles that escalate into an IP block when ignored,
 *   complaint-driven blocks, tarpits, a score per (IP, sender domain) that recovers slowly;
 * - complains: a share of accepted messages (or the recipients a predicate picks) comes back as
 *   an ARF report (RFC 5965), built as feedback loops build them and POSTed to the platform's
 *   /v1/inbound; with `blockAfterComplaints` the provider blocks after that many, as they do.
 *
 * Every transaction is recorded with its time and source IP, so tests can assert on a per-second
 * acceptance timeline. `stop()` closes every server the simulator started.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { buildArfReport } from './arf.ts';
import { REPLIES, seeded, smtpError, type ReplyKind } from './replies.ts';
import { BEHAVIOURS, compressed, type ProviderBehaviour } from './behaviours.ts';
import { ReputationBook, type WindowLimit } from './reputation.ts';

export { buildArfReport } from './arf.ts';
export { seeded } from './replies.ts';

export type SimProviderName = 'gmail' | 'microsoft' | 'yahoo' | 'other';

export interface SimProviderConfig {
  /** Recipient domains routed to this provider's server. */
  domains: string[];
  /** Accepted messages per source IP in `windowMs` before the throttle reply; undefined: no limit. */
  ratePerWindow?: number;
  /** Sliding window of the rate limit (default one minute). */
  windowMs?: number;
  /** Concurrent connections before 421 at connect (default unlimited). */
  maxConnections?: number;
  /** Share of RCPTs deferred at random, 0..1 (default 0). */
  deferRate?: number;
  /** Local parts that do not exist (default: starting with "nobody" or "unknown"). */
  unknownUser?: (localPart: string) => boolean;
  /** Share of accepted messages a recipient reports as spam, 0..1 (seeded; default 0). */
  complaintRate?: number;
  /** Recipients that always report (deterministic tests); checked before `complaintRate`. */
  complains?: (rcpt: string) => boolean;
  /** After this many complaints the provider answers every RCPT with its block reply. */
  blockAfterComplaints?: number;
  /** Delay between acceptance and the report (default 20 ms; real FBLs take minutes). */
  complaintDelayMs?: number;
  /**
   * Judge the sender as the provider does (reputation.ts, this provider's record in
   * behaviours.ts): per-IP and per-sender-domain rates instead of `ratePerWindow`, throttles
   * that escalate into a hold and then an IP block when ignored, complaints that lower the
   * score, tarpits for a poor one. `compress` runs the record's clock that many times faster;
   * `escalation` overrides single numbers of the record.
   */
  reputation?: { perIp: WindowLimit; perDomain?: WindowLimit; compress?: number; escalation?: Partial<ProviderBehaviour['escalation']> };
}

/** Where complaints go: the platform under test and a key with the `feedback` scope. */
export interface FeedbackTarget {
  url: string;
  apiKey: string;
}

export type SimEventKind = 'accepted' | 'throttled' | 'deferred' | 'unknown_user' | 'blocked' | 'refused_connection' | 'complained';

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

export interface SimEvent {
  at: number;
  kind: SimEventKind;
  ip: string;
  rcpt: string | null;
  reply: string | null;
}

const normaliseIp = (ip: string) => ip.replace(/^::ffff:/, '');

export class SimProvider {
  readonly events: SimEvent[] = [];
  port = 0;
  connections = 0;
  peakConnections = 0;
  blocked = false;
  /** Where ARF reports are POSTed; none: complaints are only recorded. */
  feedbackTarget: FeedbackTarget | null = null;
  complaints = 0;
  /** Complaint reports in flight, so `stop()` waits for them. */
  private readonly posting = new Set<Promise<void>>();
  /** Accept times per source IP, for the sliding window. */
  private readonly windows = new Map<string, number[]>();
  private server: SMTPServer | null = null;
  private readonly open = new Set<string>();
  /** The provider's judgement of its senders, when `config.reputation` asks for it. */
  readonly book: ReputationBook | null;

  constructor(
    readonly name: SimProviderName,
    readonly config: SimProviderConfig,
    private readonly random: () => number,
    private readonly startedAt: number,
  ) {
    const r = config.reputation;
    this.book = r ? new ReputationBook({ ...compressed(BEHAVIOURS[name].escalation, r.compress ?? 1), ...r.escalation, perIp: r.perIp, perDomain: r.perDomain }) : null;
  }

  private reply(kind: ReplyKind | 'domainThrottle' | 'escalatedBlock', ip: string, rcpt = '', domain = ''): Error {
    const [code, text] = kind === 'domainThrottle' ? BEHAVIOURS[this.name].replies.domainThrottle : kind === 'escalatedBlock' ? BEHAVIOURS[this.name].replies.block : REPLIES[this.name][kind];
    return smtpError(code, text.replaceAll('{ip}', ip).replaceAll('{rcpt}', rcpt).replaceAll('{domain}', domain));
  }

  private record(kind: SimEventKind, ip: string, rcpt: string | null, err: Error | null = null) {
    const code = (err as (Error & { responseCode?: number }) | null)?.responseCode;
    this.events.push({ at: Date.now(), kind, ip, rcpt, reply: err ? `${code} ${err.message}` : null });
  }

  /** Accepted in the sliding window for this source IP, oldest pruned. */
  private inWindow(ip: string, now: number): number[] {
    const w = (this.windows.get(ip) ?? []).filter((t) => t > now - (this.config.windowMs ?? 60_000));
    this.windows.set(ip, w);
    return w;
  }

  async start(): Promise<void> {
    const self = this;
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      hideENHANCEDSTATUSCODES: true,
      disableReverseLookup: true,
      logger: false,
      onConnect(session, cb) {
        const ip = normaliseIp(session.remoteAddress);
        if (self.config.maxConnections !== undefined && self.connections >= self.config.maxConnections) {
          const err = self.reply('connections', ip);
          self.record('refused_connection', ip, null, err);
          self.book?.connectionRefused(ip, Date.now());
          return cb(err);
        }
        self.open.add(session.id);
        self.connections++;
        self.peakConnections = Math.max(self.peakConnections, self.connections);
        cb();
      },
      onClose(session) {
        // Refused connections were never counted.
        if (!self.open.delete(session.id)) return;
        self.connections--;
      },
      onRcptTo(addr, session, cb) {
        const ip = normaliseIp(session.remoteAddress);
        const rcpt = addr.address;
        const now = Date.now();
        if (self.blocked) {
          const err = self.reply('block', ip, rcpt);
          self.record('blocked', ip, rcpt, err);
          return cb(err);
        }
        const local = rcpt.slice(0, rcpt.lastIndexOf('@'));
        if ((self.config.unknownUser ?? ((l: string) => /^(nobody|unknown)/i.test(l)))(local)) {
          const err = self.reply('unknown', ip, rcpt);
          self.record('unknown_user', ip, rcpt, err);
          return cb(err);
        }
        if (self.book) return self.judge(ip, session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcpt, now, cb);
        const window = self.inWindow(ip, now);
        if (self.config.ratePerWindow !== undefined && window.length >= self.config.ratePerWindow) {
          const err = self.reply('throttle', ip, rcpt);
          self.record('throttled', ip, rcpt, err);
          return cb(err);
        }
        if (self.config.deferRate && self.random() < self.config.deferRate) {
          const err = self.reply('defer', ip, rcpt);
          self.record('deferred', ip, rcpt, err);
          return cb(err);
        }
        // The slot is taken at RCPT, so concurrent transactions cannot overshoot the window.
        window.push(now);
        cb();
      },
      onData(stream, session, cb) {
        const ip = normaliseIp(session.remoteAddress);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          // Read the envelope before answering: smtp-server resets it for the next transaction.
          const rcpts = session.envelope.rcptTo.map((r) => r.address);
          const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          for (const r of rcpts) self.record('accepted', ip, r);
          (cb as (err: Error | null, message?: string) => void)(null, `2.0.0 OK ${Date.now()} sim.${self.name}`);
          for (const r of rcpts) self.maybeComplain(ip, mailFrom, r, Buffer.concat(chunks).toString('utf8'));
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = ((this.server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  }

  /** RCPT under `config.reputation`: the book's verdict, answered after its tarpit delay. */
  private judge(ip: string, mailFrom: string, rcpt: string, now: number, cb: (err?: Error | null) => void) {
    // Random deferrals first: they are the receiver's own trouble, not a verdict on the sender.
    if (this.config.deferRate && this.random() < this.config.deferRate) {
      const err = this.reply('defer', ip, rcpt);
      this.record('deferred', ip, rcpt, err);
      return cb(err);
    }
    const domain = domainOf(mailFrom);
    const v = this.book!.decide(ip, domain, now);
    let err: Error | null = null;
    if (v.kind === 'block') err = this.reply('escalatedBlock', ip, rcpt, domain);
    else if (v.kind === 'throttle') err = this.reply(v.scope === 'domain' ? 'domainThrottle' : 'throttle', ip, rcpt, domain);
    if (err) this.record(v.kind === 'block' ? 'blocked' : 'throttled', ip, rcpt, err);
    if (v.delayMs > 0) setTimeout(() => cb(err), v.delayMs);
    else cb(err);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    await Promise.allSettled([...this.posting]);
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Decides whether this recipient reports the message, and if so sends the ARF report. */
  private maybeComplain(ip: string, mailFrom: string, rcpt: string, raw: string) {
    const picked = this.config.complains?.(rcpt) ?? (this.config.complaintRate ? this.random() < this.config.complaintRate : false);
    if (!picked) return;
    this.complaints++;
    this.book?.complaint(ip, domainOf(mailFrom), Date.now());
    if (this.config.blockAfterComplaints !== undefined && this.complaints >= this.config.blockAfterComplaints) this.blocked = true;
    const report = buildArfReport({ provider: this.name, ip, mailFrom, rcpt, original: raw, at: new Date() });
    const target = this.feedbackTarget;
    if (!target || !this.server) {
      this.record('complained', ip, rcpt);
      return;
    }
    const post = (async () => {
      await new Promise((r) => setTimeout(r, this.config.complaintDelayMs ?? 20));
      try {
        const res = await fetch(`${target.url}/v1/inbound`, { method: 'POST', headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'message/rfc822' }, body: report });
        const text = await res.text();
        this.events.push({ at: Date.now(), kind: 'complained', ip, rcpt, reply: `${res.status} ${text.slice(0, 500)}` });
      } catch (error) {
        this.events.push({ at: Date.now(), kind: 'complained', ip, rcpt, reply: `POST failed: ${(error as Error).message}` });
      }
    })();
    this.posting.add(post);
    void post.finally(() => this.posting.delete(post));
  }

  /** The block switch: on, every RCPT gets the provider's block reply; off, back to normal. */
  block(on = true) {
    this.blocked = on;
  }

  count(kind: SimEventKind, from = 0, to = Infinity): number {
    return this.events.filter((e) => e.kind === kind && e.at >= from && e.at < to).length;
  }

  /** Transactions that reached RCPT (whatever the answer) in [from, to): what we were sent. */
  attempts(from = 0, to = Infinity): number {
    return this.events.filter((e) => e.kind !== 'refused_connection' && e.at >= from && e.at < to).length;
  }

  first(kind: SimEventKind): SimEvent | undefined {
    return this.events.find((e) => e.kind === kind);
  }

  /** Events of a kind per whole second since the simulator started: index = second. */
  timeline(kind: SimEventKind = 'accepted'): number[] {
    const out: number[] = [];
    for (const e of this.events) {
      if (e.kind !== kind) continue;
      const s = Math.floor((e.at - this.startedAt) / 1000);
      while (out.length <= s) out.push(0);
      out[s]++;
    }
    return out;
  }

  /** Largest number of events of `kinds` in any window of `ms` starting at or after `from`. */
  maxInWindow(ms: number, from = 0, kinds: SimEventKind[] = ['accepted']): number {
    const times = this.events.filter((e) => kinds.includes(e.kind) && e.at >= from).map((e) => e.at).sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j] - times[i] >= ms) i++;
      best = Math.max(best, j - i + 1);
    }
    return best;
  }
}

export interface ProviderSimulator {
  providers: Record<SimProviderName, SimProvider>;
  /** Sends every provider's complaints to this platform from now on. */
  feedbackTo(target: FeedbackTarget): void;
  /** Static routes for MtaNode: every configured domain → its provider's server. */
  routes: Record<string, { host: string; port: number }>;
  startedAt: number;
  stop(): Promise<void>;
}

export const DEFAULT_DOMAINS: Record<SimProviderName, string[]> = {
  gmail: ['gmail.com', 'googlemail.com'],
  microsoft: ['outlook.com', 'hotmail.com'],
  yahoo: ['yahoo.com', 'aol.com'],
  other: ['other.test'],
};

/**
 * Starts one server per provider. Each provider's config is optional: its domains default to
 * DEFAULT_DOMAINS and it has no limit unless given one.
 */
export async function startProviderSim(
  config: Partial<Record<SimProviderName, Partial<SimProviderConfig>>> = {},
  opts: { seed?: number } = {},
): Promise<ProviderSimulator> {
  const random = seeded(opts.seed ?? 42);
  const startedAt = Date.now();
  const providers = {} as Record<SimProviderName, SimProvider>;
  const started: SimProvider[] = [];
  try {
    for (const name of ['gmail', 'microsoft', 'yahoo', 'other'] as const) {
      const p = new SimProvider(name, { domains: DEFAULT_DOMAINS[name], ...config[name] }, random, startedAt);
      await p.start();
      started.push(p);
      providers[name] = p;
    }
  } catch (error) {
    await Promise.allSettled(started.map((p) => p.stop()));
    throw error;
  }
  const routes: Record<string, { host: string; port: number }> = {};
  for (const p of started) for (const d of p.config.domains) routes[d] = { host: '127.0.0.1', port: p.port };
  return {
    providers,
    routes,
    startedAt,
    feedbackTo(target) {
      for (const p of started) p.feedbackTarget = target;
    },
    async stop() {
      await Promise.allSettled(started.map((p) => p.stop()));
    },
  };
}
