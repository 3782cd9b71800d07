/**
 * What the SMTP listener tests share: a raw SMTP client over TCP or TLS that reads replies one
 * by one (for what nodemailer will not send: bare LF, 1 MB lines, a drop mid-DATA, pipelined
 * commands), and nodemailer transports for the submission ports.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import nodemailer from 'nodemailer';
import type { Platform } from '../helpers/platform.ts';

export interface Reply {
  code: number;
  text: string;
}

export class RawSmtp {
  private buffer = '';
  private replies: Reply[] = [];
  private waiters: Array<(r: Reply | null) => void> = [];
  closed = false;

  private constructor(public socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      let at: number;
      let lines: string[] = [];
      while ((at = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, at);
        this.buffer = this.buffer.slice(at + 2);
        lines.push(line);
        // RFC 5321 §4.2.1: `code-` continues a reply, `code ` ends it.
        if (line[3] !== '-') {
          this.push({ code: Number(line.slice(0, 3)), text: lines.map((l) => l.slice(4)).join('\n') });
          lines = [];
        }
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    socket.on('error', () => {});
  }

  private push(reply: Reply) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(reply);
    else this.replies.push(reply);
  }

  static async open(port: number, opts: { tls?: { ca: string } } = {}): Promise<RawSmtp> {
    const socket = opts.tls ? tlsConnect({ port, host: '127.0.0.1', ca: opts.tls.ca, servername: 'localhost' }) : tcpConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawSmtp(socket);
    const greeting = await client.reply();
    if (greeting?.code !== 220) throw new Error(`no greeting: ${JSON.stringify(greeting)}`);
    return client;
  }

  /** The next reply, or null once the server closed the connection. */
  reply(): Promise<Reply | null> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  async command(line: string): Promise<Reply | null> {
    await this.write(`${line}\r\n`);
    return this.reply();
  }

  /** EHLO and AUTH PLAIN with `key` (over the TLS this client was opened with). */
  async login(key: string): Promise<void> {
    const ehlo = await this.command('EHLO raw.test');
    if (ehlo?.code !== 250) throw new Error(`EHLO: ${JSON.stringify(ehlo)}`);
    const auth = await this.command(`AUTH PLAIN ${Buffer.from(`\0tenant\0${key}`).toString('base64')}`);
    if (auth?.code !== 235) throw new Error(`AUTH: ${JSON.stringify(auth)}`);
  }

  close() {
    this.socket.destroy();
  }
}

/**
 * The client's TCP socket with Nagle off: nodemailer writes the final `.` on its own, and with
 * Nagle it waits for the ACK of the body, which the server's delayed ACK holds back (~40 ms a
 * message); with a few hundred messages per test that is most of the run.
 */
function noDelaySocket(options: { host: string; port: number }, callback: (err: Error | null, socket?: { connection: Socket }) => void) {
  const socket = tcpConnect({ host: options.host, port: options.port });
  socket.setNoDelay(true);
  socket.once('connect', () => callback(null, { connection: socket }));
  socket.once('error', (err) => callback(err));
}

/** A nodemailer transport for submission with STARTTLS (587-like), trusting the listener's certificate. */
export function starttlsTransport(p: Platform, key: string, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.edge.smtp.submissionPort!,
    secure: false,
    requireTLS: true,
    auth: { user: 'default', pass: key },
    tls: { ca: p.edge.smtp.cert!, servername: 'localhost' },
    getSocket: noDelaySocket,
    ...extra,
  } as nodemailer.TransportOptions);
}

/** A nodemailer transport for submission over implicit TLS (465-like). */
export function implicitTlsTransport(p: Platform, key: string) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.edge.smtp.submissionTlsPort!,
    secure: true,
    auth: { user: 'anything', pass: key },
    tls: { ca: p.edge.smtp.cert!, servername: 'localhost' },
  } as nodemailer.TransportOptions);
}

/** The error nodemailer rejected with, for its SMTP reply code. */
export async function smtpFailure(promise: Promise<unknown>): Promise<Error & { responseCode?: number; response?: string; code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { responseCode?: number };
  }
  throw new Error('expected the SMTP transaction to fail');
}
