/**
 * A real bounce: the embedded node delivers to a private Postfix on loopback, which accepts the
 * message (250) and then fails its local delivery, so Postfix's bounce daemon writes a DSN to the
 * envelope sender — the job's VERP address — and relays it to Postlane's MX listener. The job
 * becomes `bounced` and the recipient suppressed, with no sample DSN of ours in the loop.
 * Postfix is installed when missing (bench/lib/postfix-install.ts, as root or passwordless sudo).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { ensurePostfix } from '../../bench/lib/postfix-install.ts';
import { startPostfixRelay, type PostfixRelay } from '../../bench/lib/postfix-relay.ts';

const DOMAIN = 'bounce-origin.test';
/** The domain Postfix takes mail for, then fails to deliver locally. */
const DEST = 'postfix-dest.test';

let p: Platform;
let postfix: PostfixRelay;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  await ensurePostfix((line) => console.log(line));
  const postfixPort = await freePort();
  p = await startPlatform({ sinkPort: postfixPort, env: { POSTLANE_INTAKE_PORT: '0' } });
  postfix = await startPostfixRelay({
    port: postfixPort,
    // The bounce goes back to the VERP domain, which Postfix relays to Postlane's MX.
    relayPort: p.edge.smtp.intakePort!,
    destinationConcurrency: 2,
    reuseCount: 10,
    extraMainCf: [
      `mydestination = ${DEST}`,
      // Every local recipient exists at RCPT (accepted, 250) and fails at delivery: an after-accept bounce.
      'local_recipient_maps =',
      'smtpd_reject_unlisted_recipient = no',
      'local_transport = error:5.1.1 mailbox does not exist',
      'myhostname = mx.postfix-dest.test',
    ],
  });
  await p.startNode();
  await addDomain(p, DOMAIN);
});

after(async () => {
  await postfix?.stop();
  await p?.stop();
});

test('Postfix accepts, then bounces: its DSN comes back through the SMTP intake and suppresses the address', async () => {
  const recipient = `ghost@${DEST}`;
  const sent = await p.api('POST', '/v1/messages', { from: `app@${DOMAIN}`, to: recipient, subject: 'to a mailbox that is not there', text: 'hello' });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));

  // First Postfix says 250 (the node's result is `delivered`) ...
  const events = await waitFor(
    async () => {
      const view = (await p.api('GET', `/v1/messages/${sent.body.id}`)).body;
      return view.events.some((e: { type: string }) => e.type === 'bounced') && view.events;
    },
    60_000,
    `the bounce from Postfix (its log: ${postfix.logTail()})`,
  );
  const types = events.map((e: { type: string }) => e.type);
  assert.ok(types.indexOf('delivered') < types.indexOf('bounced'), `delivered, then bounced: ${types.join(', ')}`);
  // ... then its DSN turns it into a bounce, an asynchronous one, and suppresses the address.
  const bounced = events.find((e: { type: string }) => e.type === 'bounced');
  assert.equal(bounced.data.async, true, JSON.stringify(events));
  const list = await p.api('GET', `/v1/suppressions?contains=ghost`);
  const row = list.body.data.find((s: { address: string }) => s.address === recipient);
  assert.ok(row, JSON.stringify(list.body));
  assert.equal(row.reason, 'hard_bounce');

  const again = await p.api('POST', '/v1/messages', { from: `app@${DOMAIN}`, to: recipient, subject: 'again', text: 'again' });
  assert.equal(again.body.status, 'suppressed');
});
