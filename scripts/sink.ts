/**
 * A local SMTP sink for trying Postlane out: accepts every message on 127.0.0.1 and prints its
 * envelope, subject and size. `npm run sink -- 2525`.
 */
import { SMTPServer } from 'smtp-server';

const port = Number(process.argv[2] ?? 2525);
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, session, callback) {
    let size = 0;
    let head = '';
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (head.length < 8192) head += chunk.toString('utf8');
    });
    stream.on('end', () => {
      const subject = /^Subject: (.*)$/im.exec(head)?.[1] ?? '';
      const signed = /^DKIM-Signature:/im.test(head);
      console.log(`${new Date().toISOString()} from=<${session.envelope.mailFrom ? session.envelope.mailFrom.address : ''}> to=${session.envelope.rcptTo.map((r) => `<${r.address}>`).join(',')} size=${size} dkim=${signed} subject=${JSON.stringify(subject)}`);
      callback();
    });
  },
});
server.listen(port, '127.0.0.1', () => console.log(`SMTP sink listening on 127.0.0.1:${port}`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));
