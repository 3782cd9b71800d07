/**
 * What smtp-server leaves to its user, for listeners open to anyone: a bound on command lines,
 * a brute-force bound on AUTH per client address, and the bare CR / LF check that stops SMTP
 * smuggling.
 */
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/**
 * RFC 5321 §4.5.3.1.4 bounds a command line at 512 octets, RFC 4954 §4 an AUTH line at 12,288;
 * past this a client is not speaking SMTP, and what it sent cannot be read as commands any more.
 */
export const MAX_COMMAND_LINE_BYTES = 12_288;
/** How long close() lets a transaction in progress finish before its connection gets 421. */
const CLOSE_GRACE_MS = 1_000;

/** The smtp-server internals the bound reaches: its per-connection parser (lib/smtp-stream.js). */
interface ConnectionInternals {
  _parser:
    | false
    | {
        _dataMode: boolean;
        _remainder: string;
        _write(chunk: Buffer, encoding: string, next: (err?: Error | null) => void): void;
        oncommand(line: Buffer, next?: () => void): void;
      };
  send(code: number, text: string): void;
  close(): void;
  remoteAddress: string;
}

/**
 * An SMTPServer whose connections refuse a command line past MAX_COMMAND_LINE_BYTES with 500
 * and close: smtp-server itself keeps an unterminated line in memory without end. In DATA the
 * bound is the message size (SIZE), checked by the listener.
 */
export class BoundedSMTPServer extends SMTPServer {
  constructor(
    options: SMTPServerOptions,
    private readonly onLongLine: (remoteAddress: string) => void = () => {},
  ) {
    super({ closeTimeout: CLOSE_GRACE_MS, ...options });
  }

  connect(socket: unknown, socketOptions: unknown): void {
    (SMTPServer.prototype as unknown as { connect(s: unknown, o: unknown): void }).connect.call(this, socket, socketOptions);
    const connection = [...this.connections].at(-1) as ConnectionInternals | undefined;
    const parser = connection?._parser;
    if (!connection || !parser) return;
    const refuse = () => {
      this.onLongLine(connection.remoteAddress);
      connection.send(500, `5.5.2 line too long: a command line is at most ${MAX_COMMAND_LINE_BYTES} octets (RFC 5321 §4.5.3.1.4); closing`);
      connection.close();
    };
    const write = parser._write.bind(parser);
    parser._write = (chunk, encoding, next) =>
      write(chunk, encoding, (err) => {
        if (!parser._dataMode && parser._remainder.length > MAX_COMMAND_LINE_BYTES) {
          parser._remainder = '';
          refuse();
        }
        next(err);
      });
    const oncommand = parser.oncommand;
    parser.oncommand = (line, next) => {
      // A long line that arrived with its line end in one read: refused the same way.
      if (line.length > MAX_COMMAND_LINE_BYTES) return refuse();
      oncommand.call(parser, line, next);
    };
  }
}

/**
 * Failed AUTH per client address in a sliding window: past `maxFailures`, AUTH answers 454
 * (temporary, RFC 4954 §6) until the oldest failure leaves the window, whatever the credentials.
 */
export class AuthFailures {
  private readonly byAddress = new Map<string, number[]>();

  constructor(
    readonly maxFailures = 5,
    readonly windowMs = 10 * 60_000,
  ) {}

  private recent(address: string, now: number): number[] {
    const times = (this.byAddress.get(address) ?? []).filter((t) => t > now - this.windowMs);
    if (times.length) this.byAddress.set(address, times);
    else this.byAddress.delete(address);
    return times;
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  blockedFor(address: string, now: number): number {
    const times = this.recent(address, now);
    return times.length < this.maxFailures ? 0 : Math.ceil((times[0] + this.windowMs - now) / 1000);
  }

  fail(address: string, now: number): void {
    const times = this.recent(address, now);
    times.push(now);
    this.byAddress.set(address, times);
    // Bounded memory under a spray of addresses: the oldest entries go first.
    if (this.byAddress.size > 100_000) this.byAddress.delete(this.byAddress.keys().next().value!);
  }
}

/**
 * RFC 5321 §2.3.8: CR and LF appear in SMTP only as CRLF. A bare one in DATA is how SMTP
 * smuggling hides a second message (`\n.\n`, `\r.\n` end the data for some receivers), so a
 * message with any is refused whole. Fed chunk by chunk; a CR at a chunk's end is judged by the
 * next chunk's first byte.
 */
export class BareNewlineCheck {
  private lastWasCr = false;
  found = false;

  feed(chunk: Uint8Array): void {
    if (this.found) return;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.lastWasCr && byte !== 0x0a) return void (this.found = true);
      if (byte === 0x0a && !this.lastWasCr) return void (this.found = true);
      this.lastWasCr = byte === 0x0d;
    }
  }

  /** At the end of DATA: a trailing CR without its LF is bare too. */
  end(): boolean {
    return this.found || this.lastWasCr;
  }
}
