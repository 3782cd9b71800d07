/** The cluster's SMTP sink: smtp-server on loopback; every node routes every domain to it. */
import type { AddressInfo, Server } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SinkMail {
  /** The EHLO name of the node that delivered it (`<nodeId>.mta.test`). */
  helo: string;
  from: string;
  to: string[];
  raw: string;
  at: number;
}

export interface SmtpSink {
  port: number;
  mails: SinkMail[];
  close(): Promise<void>;
}

/** `delay` holds the RCPT reply for recipients it returns a delay (ms) for. */
export async function smtpSink(port: number, delay: (rcpt: string) => number): Promise<SmtpSink> {
  const mails: SinkMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onRcptTo(addr, _session, cb) {
      const ms = delay(addr.address);
      if (ms > 0) setTimeout(() => cb(), ms);
      else cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          helo: session.hostNameAppearsAs,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        cb(null);
      });
    },
  });
  // A node killed mid-session resets its connection; that is the test, not a sink failure.
  server.on('error', () => {});
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actual = ((server as unknown as { server: Server }).server.address() as AddressInfo).port;
  return { port: actual, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}
