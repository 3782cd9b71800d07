/**
 * One SMTP session over nodemailer's SMTPConnection. Each operation is bounded by named
 * timeouts, so a tarpit costs only its own destination. Pooling lives in smtp-pool.ts.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { isIP } from 'node:net';
import type { Logger } from './log.ts';

export interface SmtpTimeouts {
  /** TCP connect, ms. */
  connectMs: number;
  /** From TCP connect to the 220 greeting, ms (RFC 5321 §4.5.3.2.1 suggests 5 min). */
  greetingMs: number;
  /** Silence allowed while waiting for any one reply, ms (RFC 5321 §4.5.3.2.2-4: 5 min). */
  commandMs: number;
  /** Wait for the reply after end of data, ms (RFC 5321 §4.5.3.2.6: 10 min); also bounds a whole transaction. */
  dataMs: number;
}

export const DEFAULT_TIMEOUTS: SmtpTimeouts = { connectMs: 30_000, greetingMs: 120_000, commandMs: 300_000, dataMs: 600_000 };

/** Where one session goes, and how. */
export interface SessionTarget {
  /** MX host name (used for SNI and as the pool key) or an IP literal. */
  host: string;
  port: number;
  /** Addresses of `host` to try in order. */
  addresses: string[];
  /** Source IP to bind, null lets the OS choose. */
  localAddress: string | null;
  ehlo: string;
  /** RFC 3207 STARTTLS is mandatory (MTA-STS enforce or policy); plaintext is refused. */
  requireTls: boolean;
  /** Verify the certificate when TLS is required (RFC 8461 §4.2 asks for PKIX validation). */
  verifyTls: boolean;
}

/** nodemailer's error shape (lib/smtp-connection `_formatError`). */
export interface SmtpError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

export function smtpError(message: string, code: string, command: string, response?: string): SmtpError {
  const err = new Error(message) as SmtpError;
  err.code = code;
  err.command = command;
  if (response) {
    err.response = response;
    const n = Number(/^\d{3}/.exec(response)?.[0]);
    if (n) err.responseCode = n;
  }
  return err;
}

type Conn = SMTPConnection & {
  secure?: boolean;
  _socket?: import('node:tls').TLSSocket;
  _onData: (chunk: Buffer) => void;
  _destroyed?: boolean;
};

/** Upper bound on the bytes of replies to one operation (a hostile server's endless reply). */
const MAX_REPLY_BYTES = 64 * 1024;

/** One SMTP session. Operations run one at a time. */
export class SmtpSession {
  readonly id: number;
  messages = 0;
  tls: string | null = null;
  closed = false;
  lastUsed = Date.now();
  private replyBytes = 0;
  private failOp: ((err: SmtpError) => void) | null = null;

  private constructor(
    private readonly conn: Conn,
    readonly target: SessionTarget,
    readonly address: string,
    private readonly timeouts: SmtpTimeouts,
    id: number,
  ) {
    this.id = id;
    // Count reply bytes; nodemailer would buffer an endless multi-line reply without limit.
    const onData = conn._onData.bind(conn);
    conn._onData = (chunk: Buffer) => {
      this.replyBytes += chunk?.length ?? 0;
      if (this.replyBytes > MAX_REPLY_BYTES) {
        this.abort(smtpError(`reply larger than ${MAX_REPLY_BYTES} bytes`, 'EPROTOCOL', 'CONN'));
        return;
      }
      onData(chunk);
    };
    // abort, not only fail: close() also clears nodemailer's own timers (its greeting timeout
    // outlived a connection the server dropped, holding the process for minutes).
    conn.on('error', (err: SmtpError) => this.abort(err));
    conn.on('end', () => this.abort(smtpError('connection closed', 'ECONNECTION', 'CONN')));
  }

  private fail(err: SmtpError): void {
    this.closed = true;
    const f = this.failOp;
    this.failOp = null;
    f?.(err);
  }

  /** Closes at once and fails the running operation with `err`. */
  abort(err: SmtpError): void {
    this.fail(err);
    try {
      this.conn.close();
    } catch {
      /* already closed */
    }
  }

  /** Runs one nodemailer operation with an absolute deadline; connection loss fails it. */
  private op<T>(what: string, deadlineMs: number, run: (done: (err: SmtpError | null, v?: T) => void) => void): Promise<T> {
    if (this.closed) return Promise.reject(smtpError('connection is closed', 'ECONNECTION', what === 'send' ? 'MAIL FROM' : 'CONN'));
    this.replyBytes = 0;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: SmtpError | null, v?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.failOp = null;
        this.lastUsed = Date.now();
        if (err) reject(err);
        else resolve(v as T);
      };
      const timer = setTimeout(() => {
        const err = smtpError(`${what} took longer than ${deadlineMs} ms`, 'ETIMEDOUT', (this.conn as unknown as { stage?: string }).stage === 'init' ? 'CONN' : currentCommand(this.conn, what));
        finish(err);
        this.abort(err);
      }, deadlineMs);
      this.failOp = (err) => finish(err);
      try {
        run(finish);
      } catch (err) {
        finish(err as SmtpError);
      }
    });
  }

  static async open(target: SessionTarget, address: string, timeouts: SmtpTimeouts, id: number, ignoreTls: boolean, logger?: Logger): Promise<SmtpSession> {
    const conn = new SMTPConnection({
      host: address,
      port: target.port,
      name: target.ehlo,
      localAddress: target.localAddress ?? undefined,
      // SNI and certificate name are the MX host, not the address we connect to.
      servername: isIP(target.host) ? undefined : target.host,
      connectionTimeout: timeouts.connectMs,
      greetingTimeout: timeouts.greetingMs,
      socketTimeout: timeouts.commandMs,
      // RFC 3207: STARTTLS when offered. Opportunistic TLS accepts any certificate, as MTAs do
      // (RFC 7435); when TLS is required, plaintext is refused and the certificate is verified.
      ignoreTLS: ignoreTls && !target.requireTls,
      requireTLS: target.requireTls,
      opportunisticTLS: !target.requireTls,
      tls: { rejectUnauthorized: target.requireTls && target.verifyTls, ...(isIP(target.host) ? {} : { servername: target.host }) },
      allowInternalNetworkInterfaces: true,
      logger: false,
    } as SMTPConnection.Options) as Conn;
    const session = new SmtpSession(conn, target, address, timeouts, id);
    const deadline = timeouts.connectMs + timeouts.greetingMs + 3 * timeouts.commandMs;
    await session.op<void>('connect', deadline, (done) => conn.connect(() => done(null)));
    if (target.requireTls && !conn.secure) {
      session.abort(smtpError('TLS is required but the session is not encrypted', 'ETLS', 'STARTTLS'));
      throw smtpError('TLS is required but the session is not encrypted', 'ETLS', 'STARTTLS');
    }
    // Each SMTP step is a small write awaited by its reply; with Nagle's algorithm on, the
    // end-of-data dot waits for the server's delayed ACK (~40 ms on Linux) on every message.
    (conn._socket as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    session.tls = conn.secure ? conn._socket?.getProtocol?.() ?? 'TLS' : null;
    logger?.debug({ host: target.host, address, tls: session.tls, sid: id }, 'SMTP session open');
    return session;
  }

  /** One transaction: MAIL FROM, RCPT TO, DATA. Resolves with the final reply text. */
  async send(from: string, to: string, message: Buffer): Promise<string> {
    const deadline = 3 * this.timeouts.commandMs + this.timeouts.dataMs;
    const info = await this.op<SMTPConnection.SentMessageInfo>('send', deadline, (done) =>
      this.conn.send({ from, to: [to] } as SMTPConnection.Envelope, message, (err, info) => done(err as SmtpError | null, info)),
    );
    this.messages++;
    return String(info.response ?? '');
  }

  /** RSET, to clear a failed transaction (RFC 5321 §4.1.1.5). */
  async reset(): Promise<void> {
    await this.op<void>('RSET', this.timeouts.commandMs, (done) => this.conn.reset((err) => done(err as SmtpError | null)));
  }

  quit(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.quit();
    } catch {
      /* ignore */
    }
    // A server that never answers QUIT must not hold the socket.
    setTimeout(() => {
      try {
        this.conn.close();
      } catch {
        /* ignore */
      }
    }, 2_000).unref();
  }
}

/** The SMTP command a stalled operation was in, from nodemailer's envelope state. */
function currentCommand(conn: Conn, what: string): string {
  if (what !== 'send') return what === 'connect' ? 'CONN' : what;
  const env = (conn as unknown as { _envelope?: { accepted?: string[]; rcptQueue?: string[] } })._envelope;
  if (!env) return 'MAIL FROM';
  if (env.accepted?.length) return 'DATA';
  return 'RCPT TO';
}
