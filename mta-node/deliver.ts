/**
 * One delivery attempt for one job: route (static or MX), connect from the job's source IP,
 * send one transaction, and turn what happened into a DeliveryResult. Every failure goes
 * through `resultFromError`, the one place that maps nodemailer errors to outcomes.
 */
import { isIP } from 'node:net';
import type { DeliveryResult, LeasedJob, SmtpReply, SourceIp } from '../shared/protocol.ts';
import { parseSmtpReply } from '../shared/smtp-reply.ts';
import type { MxResolver } from './mx.ts';
import { DEFAULT_LIMITS, type PoolLimits, type SessionTarget, type SmtpError, type SmtpPools, LANE_PRIORITY } from './smtp-pool.ts';

/** nodemailer's error codes, and what each means for the outcome. */
export const SMTP_ERROR_CODES: Record<string, string> = {
  ECONNECTION: 'connection failed or closed unexpectedly',
  ETIMEDOUT: 'a named timeout expired (connect, greeting, command or data)',
  ESOCKET: 'socket error (refused, reset, unreachable)',
  EDNS: 'the host name could not be resolved',
  ETLS: 'STARTTLS or the TLS handshake failed',
  EPROTOCOL: 'the server broke the protocol (bad greeting, unexpected or oversized reply)',
  EENVELOPE: 'the server rejected MAIL FROM, RCPT TO or DATA',
  EMESSAGE: 'the server rejected the message after end of data',
  ESTREAM: 'reading the message failed',
  EBUSY: 'no session to the destination in time; nothing was sent',
};

/** A job the node gives back unstarted: its destination cannot take it within the lease. */
export interface NotStarted {
  release: string;
}

/** Stages as the protocol names them. */
export type Stage = 'CONN' | 'EHLO' | 'STARTTLS' | 'MAIL FROM' | 'RCPT TO' | 'DATA' | 'DNS' | 'DKIM' | 'LOCAL';

const STAGES: Record<string, Stage> = {
  CONN: 'CONN', EHLO: 'EHLO', HELO: 'EHLO', LHLO: 'EHLO', STARTTLS: 'STARTTLS',
  'MAIL FROM': 'MAIL FROM', 'RCPT TO': 'RCPT TO', DATA: 'DATA', RSET: 'MAIL FROM', API: 'MAIL FROM', DNS: 'DNS',
};

export interface AttemptContext {
  job: LeasedJob;
  mx: string | null;
  sourceIp: string | null;
  tls: string | null;
  startedAt: number;
}

function base(ctx: AttemptContext): Omit<DeliveryResult, 'outcome' | 'reply' | 'error' | 'stage'> {
  return {
    jobId: ctx.job.jobId,
    leaseId: ctx.job.leaseId,
    dedupKey: ctx.job.dedupKey,
    mx: ctx.mx,
    sourceIp: ctx.sourceIp,
    tls: ctx.tls,
    startedAt: ctx.startedAt,
    finishedAt: Date.now(),
    fromJournal: false,
  };
}

/** The outcome an SMTP reply code means (RFC 5321 §4.2.1): 2yz delivered, 4yz deferred, 5yz bounced. */
export function outcomeOf(reply: SmtpReply): DeliveryResult['outcome'] {
  if (reply.code < 300) return 'delivered';
  if (reply.code >= 500) return 'bounced';
  return 'deferred';
}

/** The remote queue id in a 250 reply to DATA, when the server names one. */
export function remoteId(text: string): string | null {
  const m =
    /\bqueued as ([A-Za-z0-9._\-@<>]+)/i.exec(text) ??
    /\bid[=:\s]+<?([A-Za-z0-9._\-@]{4,})>?/i.exec(text) ??
    /\bOK\s+(?:\d+\s+)?([A-Za-z0-9._\-@]{6,})(?:\s+-\s+gsmtp)?\s*$/i.exec(text);
  return m ? m[1].replace(/[<>]/g, '') : null;
}

export function deliveredResult(ctx: AttemptContext, response: string): DeliveryResult {
  const reply = parseSmtpReply(response) ?? { code: 250, enhanced: null, text: response.slice(0, 4096) };
  const id = remoteId(reply.text);
  return { ...base(ctx), outcome: 'delivered', reply, error: id ? `remote id ${id}` : null, stage: 'DATA' };
}

/** A result without a remote reply (DNS, local trouble): always its own explicit outcome. */
export function localResult(ctx: AttemptContext, outcome: DeliveryResult['outcome'], stage: Stage, error: string): DeliveryResult {
  return { ...base(ctx), outcome, reply: null, error: error.slice(0, 2048), stage };
}

/**
 * The one error builder: a nodemailer error (code, response, responseCode, command) becomes a
 * result. A reply decides by its class; no reply (refused, reset, timeout) is always a deferral.
 * A failed STARTTLS is a deferral whatever the reply, since the server did not refuse the mail.
 */
export function resultFromError(ctx: AttemptContext, err: unknown): DeliveryResult {
  const e = (err ?? {}) as SmtpError;
  const stage: Stage = STAGES[e.command ?? ''] ?? (e.code === 'EDNS' ? 'DNS' : 'CONN');
  const reply = typeof e.response === 'string' ? parseSmtpReply(e.response) : null;
  const what = SMTP_ERROR_CODES[e.code ?? ''] ?? 'delivery failed';
  const detail = `${e.code ?? 'ERROR'}: ${what}${e.message ? ` (${e.message.split(': ')[0]})` : ''}`;
  if (!reply) return localResult(ctx, 'deferred', stage, detail);
  const outcome = stage === 'STARTTLS' ? 'deferred' : outcomeOf(reply);
  return { ...base(ctx), outcome: outcome === 'delivered' ? 'deferred' : outcome, reply, error: detail.slice(0, 2048), stage };
}

export interface DeliverOptions {
  mx: MxResolver;
  pools: SmtpPools;
  /** Source IPs the hub accepted for this node. */
  ips: SourceIp[];
  limits?: Partial<PoolLimits>;
  /** Per provider overrides of the pool limits, e.g. { gmail: { maxConnections: 20 } }. */
  providerLimits?: Record<string, Partial<PoolLimits>>;
  verifyTlsWhenRequired?: boolean;
  /** MX hosts tried per attempt when earlier ones fail at connection level. */
  maxMxHosts?: number;
  /** Longest a job waits for a session to its destination before it is given back (default: no bound). */
  sessionWaitMs?: number;
}

/** Picks the source IP: the hub's pick when it is ours, else round-robin in the job's pool. */
export class SourceIpPicker {
  private rr = 0;
  constructor(private readonly ips: SourceIp[]) {}
  pick(job: LeasedJob): SourceIp | { error: string } {
    if (job.sourceIp) {
      const hit = this.ips.find((i) => i.address === job.sourceIp);
      return hit ?? { error: `source IP ${job.sourceIp} is not accepted for this node` };
    }
    const inPool = this.ips.filter((i) => i.pool === job.pool);
    if (inPool.length === 0) return { error: `no source IP of pool ${job.pool} on this node` };
    return inPool[this.rr++ % inPool.length];
  }
}

/**
 * Delivers `message` (already signed and CRLF-normalised) for `job`. Never throws: every
 * outcome is a DeliveryResult. `stillLeased` is checked right before the transaction starts,
 * and a job whose lease has passed is dropped (null) so the hub can lease it again. A job whose
 * destination has no session for it in time is not started: `{ release }` says why, and the
 * node gives the lease back.
 */
export async function deliverJob(
  job: LeasedJob,
  message: Buffer,
  source: SourceIp,
  opts: DeliverOptions,
  stillLeased: () => boolean = () => true,
): Promise<DeliveryResult | NotStarted | null> {
  const ctx: AttemptContext = { job, mx: null, sourceIp: source.address, tls: null, startedAt: Date.now() };
  const route = await opts.mx.resolve(job.domain);
  if (route.kind === 'permanent') return localResult(ctx, 'bounced', 'DNS', route.error);
  if (route.kind === 'transient') return localResult(ctx, 'deferred', 'DNS', route.error);
  const limits: PoolLimits = { ...DEFAULT_LIMITS, ...opts.limits, ...opts.providerLimits?.[job.provider] };
  const family = isIP(source.address) === 6 ? 6 : 4;
  let last: DeliveryResult | null = null;
  for (const mxHost of route.hosts.slice(0, opts.maxMxHosts ?? 5)) {
    ctx.mx = `${mxHost.host}:${mxHost.port}`;
    ctx.tls = null;
    const addrs = await opts.mx.addresses(mxHost.host, family);
    if (addrs.kind !== 'ok') {
      last = localResult(ctx, 'deferred', 'DNS', addrs.error);
      continue;
    }
    const target: SessionTarget = {
      host: mxHost.host,
      port: mxHost.port,
      addresses: addrs.addresses,
      localAddress: source.address,
      ehlo: source.ehlo,
      requireTls: job.requireTls,
      verifyTls: opts.verifyTlsWhenRequired ?? true,
    };
    const outcome = await attempt(job, message, target, limits, opts.pools, ctx, stillLeased, opts.sessionWaitMs);
    if (outcome === null || 'release' in outcome) return outcome;
    last = outcome;
    // Another MX host is tried only when this one failed before accepting the envelope.
    const connLevel = outcome.outcome !== 'delivered' && ['CONN', 'EHLO', 'STARTTLS', 'DNS'].includes(outcome.stage ?? '');
    if (!connLevel) return outcome;
  }
  return last ?? localResult(ctx, 'deferred', 'DNS', `no MX host for ${job.domain}`);
}

async function attempt(
  job: LeasedJob,
  message: Buffer,
  target: SessionTarget,
  limits: PoolLimits,
  pools: SmtpPools,
  ctx: AttemptContext,
  stillLeased: () => boolean,
  sessionWaitMs?: number,
): Promise<DeliveryResult | NotStarted | null> {
  // A reused session the server has meanwhile closed fails before MAIL FROM is accepted; that
  // is retried once on a fresh session (nothing was sent, so no duplicate is possible).
  for (let tries = 0; tries < 2; tries++) {
    let retry = false;
    try {
      const res = await pools.withSession(target, limits, async (session, reused) => {
        ctx.tls = session.tls;
        ctx.mx = `${target.host}:${target.port}`;
        if (!stillLeased()) return null;
        try {
          const response = await session.send(job.envelopeFrom, job.recipient, message);
          return deliveredResult(ctx, response);
        } catch (err) {
          const e = err as SmtpError;
          if (reused && !e.response && (e.command === 'MAIL FROM' || e.command === 'API' || e.command === 'CONN') && tries === 0) {
            retry = true;
            session.abort(e);
            return undefined;
          }
          // RFC 5321 §4.1.1.5: RSET clears the failed transaction so the session can carry the next.
          if (!session.closed) await session.reset().catch(() => session.abort(e));
          return resultFromError(ctx, e);
        }
      }, LANE_PRIORITY[job.lane] ?? 1, sessionWaitMs);
      if (!retry) return res ?? null;
    } catch (err) {
      if ((err as SmtpError).code === 'EBUSY') return { release: `${ctx.mx}: ${(err as Error).message}` };
      return resultFromError(ctx, err);
    }
  }
  return resultFromError(ctx, new Error('session lost twice'));
}
