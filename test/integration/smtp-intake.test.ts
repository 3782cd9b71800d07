/**
 * Bounce and feedback intake by SMTP: a DSN (RFC 3464) sent to a delivered job's VERP address
 * and an ARF report (RFC 5965) sent to the FBL address, both by nodemailer to the edge's MX
 * listener, go the way of POST /v1/inbound: the job's trace gets `bounced` / `complained` and
 * the recipient is suppressed. Addresses that are no job's and no FBL mailbox are refused at RCPT.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type ReceivedMail, type Sink } from '../mta-node/helpers.ts';
import { buildArfReport } from '../simulator/arf.ts';
import { RawSmtp } from './smtp-submission-client.ts';

const DOMAIN = 'intake.test';
const FROM = `app@${DOMAIN}`;
const FBL = 'fbl@postlane.test';

let sink: Sink;
let p: Platform;

before(async () => {
  sink = await startSink();
  p = await startPlatform({ sinkPort: sink.port, env: { POSTLANE_INTAKE_PORT: '0', POSTLANE_FBL_ADDRESSES: FBL, POSTLANE_INTAKE_HOST: 'intake.postlane.test' } });
  await p.startNode();
  await addDomain(p, DOMAIN);
});

after(async () => {
  await p?.stop();
  await sink?.close();
});

/** Sends one message through the API and returns it as the sink received it (envelope sender = VERP). */
async function deliveredTo(recipient: string): Promise<{ id: string; mail: ReceivedMail }> {
  const res = await p.api('POST', '/v1/messages', { from: FROM, to: recipient, subject: 'hello', text: 'hello' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const mail = await waitFor(() => sink.mails.find((m) => m.to.includes(recipient)), 20_000, `${recipient} delivered`);
  await waitFor(async () => (await p.api('GET', `/v1/messages/${res.body.id}`)).body.status === 'delivered', 10_000, 'delivered state');
  return { id: res.body.id, mail };
}

/** The MX as a receiving MTA is reached: opportunistic STARTTLS with the listener's certificate. */
function mx() {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.edge.smtp.intakePort!,
    secure: false,
    tls: { ca: p.edge.smtp.cert!, servername: 'localhost' },
  } as nodemailer.TransportOptions);
}

/** A DSN as Postfix's bounce daemon writes it, for the original `mail` (its headers quoted). */
function dsn(mail: ReceivedMail, recipient: string): string {
  const headers = mail.raw.slice(0, mail.raw.indexOf('\r\n\r\n'));
  return [
    'From: MAILER-DAEMON@mx.dest.test (Mail Delivery System)',
    `To: ${mail.from}`,
    'Subject: Undelivered Mail Returned to Sender',
    'Message-Id: <20261202101010.AB12CD@mx.dest.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered to one or more recipients.',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.dest.test',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    `Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: Recipient address rejected: User unknown in local recipient table`,
    '',
    '--B1',
    'Content-Type: text/rfc822-headers',
    '',
    headers,
    '',
    '--B1--',
    '',
  ].join('\r\n');
}

test('a DSN sent by SMTP to the VERP address bounces the delivered job and suppresses the recipient', async () => {
  const { id, mail } = await deliveredTo('gone@dest.test');
  assert.match(mail.from, /^bounces\+job_[^@]+@/);
  const info = await mx().sendMail({ envelope: { from: '', to: mail.from }, raw: dsn(mail, 'gone@dest.test') });
  assert.match(info.response, /^250 2\.0\.0 OK: report taken: bounce for job_/);

  const view = (await p.api('GET', `/v1/messages/${id}`)).body;
  assert.equal(view.recipients[0].state, 'bounced');
  const bounced = view.events.find((e: { type: string }) => e.type === 'bounced');
  assert.equal(bounced.data.async, true);
  const list = await p.api('GET', '/v1/suppressions?reason=hard_bounce');
  const row = list.body.data.find((s: { address: string }) => s.address === 'gone@dest.test');
  assert.ok(row, JSON.stringify(list.body));
  assert.equal(row.message_id, id);

  const later = await p.api('POST', '/v1/messages', { from: FROM, to: 'gone@dest.test', subject: 'again', text: 'again' });
  assert.equal(later.body.status, 'suppressed');
});

test('an ARF report sent by SMTP to the FBL address records the complaint and suppresses', async () => {
  const { id, mail } = await deliveredTo('angry@dest.test');
  const report = buildArfReport({ provider: 'other', ip: '127.0.0.1', mailFrom: mail.from, rcpt: 'angry@dest.test', original: mail.raw, at: new Date() });
  const info = await mx().sendMail({ envelope: { from: 'abuse@other.test', to: FBL }, raw: report });
  assert.match(info.response, /^250 2\.0\.0 OK: report taken: complaint for job_/);

  const view = (await p.api('GET', `/v1/messages/${id}`)).body;
  const complained = view.events.find((e: { type: string }) => e.type === 'complained');
  assert.ok(complained, JSON.stringify(view.events.map((e: { type: string }) => e.type)));
  assert.equal(complained.data.feedback_type, 'abuse');
  const list = await p.api('GET', '/v1/suppressions?reason=complaint');
  assert.ok(
    list.body.data.some((s: { address: string }) => s.address === 'angry@dest.test'),
    JSON.stringify(list.body),
  );
});

test('recipients that are no live job and no FBL address are refused at RCPT with 550 5.1.1', async () => {
  const raw = await RawSmtp.open(p.edge.smtp.intakePort!);
  assert.equal((await raw.command('EHLO mx.other.test'))?.code, 250);
  assert.equal((await raw.command('MAIL FROM:<>'))?.code, 250);
  for (const address of ['postmaster@bounces.intake.test', 'bounces+job_0000000000notajob@bounces.intake.test', 'fbl2@postlane.test', 'unsubscribe+eyJ2IjoxfQ.forged@intake.postlane.test']) {
    const reply = await raw.command(`RCPT TO:<${address}>`);
    assert.equal(reply?.code, 550, address);
    assert.match(reply!.text, /^5\.1\.1 /);
  }
  assert.equal((await raw.command('DATA'))?.code, 503, 'no recipient, no DATA');
  assert.equal((await raw.command('QUIT'))?.code, 221);

  const auth = await RawSmtp.open(p.edge.smtp.intakePort!);
  await auth.command('EHLO mx.other.test');
  assert.equal((await auth.command('AUTH PLAIN AGFiYwBkZWY='))?.code, 500, 'the MX takes no AUTH');
  auth.close();
});
