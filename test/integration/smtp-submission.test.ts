/**
 * SMTP submission end to end: nodemailer submits to the edge's 587-like (STARTTLS) and 465-like
 * (implicit TLS) listeners, the messages take the send path of POST /v1/messages, the embedded
 * MTA node delivers them to a real SMTP sink, and mailauth verifies their DKIM signatures. The
 * hostile cases (bare-LF smuggling, 1 MB lines, 10,000 RCPTs, drops mid-DATA) use a raw client.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate } from 'mailauth';
import { simpleParser } from 'mailparser';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type ReceivedMail, type Sink } from '../mta-node/helpers.ts';
import { RawSmtp, implicitTlsTransport, smtpFailure, starttlsTransport } from './smtp-submission-client.ts';

const DOMAIN = 'submit.test';
const FROM = `app@${DOMAIN}`;
const MAX_BYTES = 256 * 1024;

let sink: Sink;
let p: Platform;
let dkim: { name: string; value: string };

before(async () => {
  sink = await startSink();
  p = await startPlatform({
    sinkPort: sink.port,
    env: { POSTLANE_SUBMISSION_PORT: '0', POSTLANE_SUBMISSION_TLS_PORT: '0', POSTLANE_MAX_MESSAGE_BYTES: String(MAX_BYTES) },
  });
  await p.startNode();
  const domain = await addDomain(p, DOMAIN);
  dkim = domain.dns_records.find((r) => r.purpose === 'dkim')!;
});

after(async () => {
  await p?.stop();
  await sink?.close();
});

const mailsTo = (address: string) => sink.mails.filter((m) => m.to.includes(address));
const storedMessages = async () => Number((await p.edge.client.execute('SELECT count(*) AS n FROM messages')).rows[0].n);

async function dkimResult(mail: ReceivedMail): Promise<string> {
  const r = await authenticate(mail.raw, {
    ip: '127.0.0.1',
    helo: 'mta.test',
    sender: mail.from,
    trustReceived: false,
    resolver: async (name: string, type: string) => {
      if (type === 'TXT' && name === dkim.name) return [[dkim.value]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
  return r.dkim.results[0]?.status.result ?? 'none';
}

/** Sends a marker through submission and waits for it at the sink: whatever was taken before it is queued ahead of it. */
async function marker(tag: string) {
  const to = `marker-${tag}@dest.test`;
  await starttlsTransport(p, p.edge.apiKey).sendMail({ from: FROM, to, subject: `marker ${tag}`, text: 'marker' });
  await waitFor(() => mailsTo(to).length === 1, 20_000, `marker ${tag} delivered`);
}

test('300 messages over STARTTLS arrive exactly once each, DKIM-signed, lanes from X-Postlane-Lane', async () => {
  const transport = starttlsTransport(p, p.edge.apiKey, { pool: true, maxConnections: 4, maxMessages: 100 });
  const infos = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      transport.sendMail({
        from: { name: 'The App', address: FROM },
        to: `bulk-${i}@dest.test`,
        subject: `bulk ${i}`,
        text: `message ${i}`,
        html: `<p>message <b>${i}</b></p>`,
        headers: { 'X-Postlane-Lane': i % 2 ? 'lifecycle' : 'transactional', 'X-Seq': String(i) },
      }),
    ),
  );
  transport.close();
  assert.ok(
    infos.every((info) => /^250 2\.0\.0 OK: queued as msg_/.test(info.response)),
    infos.map((i) => i.response).find((r) => !r.startsWith('250')),
  );
  const mails = await waitFor(
    () => {
      const got = Array.from({ length: 300 }, (_, i) => mailsTo(`bulk-${i}@dest.test`));
      return got.every((g) => g.length >= 1) && got;
    },
    60_000,
    '300 deliveries',
  );
  assert.ok(
    mails.every((g) => g.length === 1),
    'each message delivered once',
  );

  const verdicts = await Promise.all(mails.map(([m]) => dkimResult(m)));
  assert.equal(verdicts.filter((v) => v === 'pass').length, 300, JSON.stringify(verdicts.filter((v) => v !== 'pass').slice(0, 3)));

  const parsed = await simpleParser(mails[7][0].raw);
  assert.equal(parsed.subject, 'bulk 7');
  assert.equal(parsed.headers.get('x-seq'), '7', 'custom headers are carried over');
  assert.equal(parsed.headers.get('x-postlane-lane'), undefined, 'X-Postlane-* is stripped');
  assert.equal(parsed.text?.trim(), 'message 7');
  assert.match(String(parsed.html), /<b>7<\/b>/);
  // The envelope sender is the job's VERP address (bounces come back to the intake).
  assert.match(mails[7][0].from, /^bounces\+job_/);

  const queued = /queued as (msg_\S+)/.exec(infos[7].response)![1];
  const view = await p.api('GET', `/v1/messages/${queued}`);
  assert.equal(view.status, 200);
  assert.equal(view.body.lane, 'lifecycle');
  assert.equal((await p.api('GET', `/v1/messages/${/queued as (msg_\S+)/.exec(infos[8].response)![1]}`)).body.lane, 'transactional');
});

test('implicit TLS (465-like) submits the same way', async () => {
  const info = await implicitTlsTransport(p, p.edge.apiKey).sendMail({
    from: FROM,
    to: 'tls@dest.test',
    cc: 'tls-cc@dest.test',
    bcc: 'tls-bcc@dest.test',
    subject: 'over TLS',
    text: 'hello',
  });
  assert.match(info.response, /^250 /);
  assert.deepEqual(info.accepted.sort(), ['tls-bcc@dest.test', 'tls-cc@dest.test', 'tls@dest.test']);
  await waitFor(() => ['tls@dest.test', 'tls-cc@dest.test', 'tls-bcc@dest.test'].every((a) => mailsTo(a).length === 1), 20_000, 'three deliveries');
  const seen = await simpleParser(mailsTo('tls-bcc@dest.test')[0].raw);
  assert.equal(seen.headers.get('bcc'), undefined, 'Bcc is not shown');
  assert.equal((seen.cc as { text: string }).text, 'tls-cc@dest.test');
  assert.equal(await dkimResult(mailsTo('tls@dest.test')[0]), 'pass');
});

test('a resubmit with the same Message-ID gets the first answer and is delivered once', async () => {
  const mail = { from: FROM, to: 'again@dest.test', subject: 'once', text: 'only once', messageId: '<resubmit-1@client.test>' };
  const first = await starttlsTransport(p, p.edge.apiKey).sendMail(mail);
  const second = await starttlsTransport(p, p.edge.apiKey).sendMail(mail);
  assert.match(first.response, /^250 /);
  assert.equal(second.response, first.response, 'the same queued id');
  const other = await smtpFailure(starttlsTransport(p, p.edge.apiKey).sendMail({ ...mail, text: 'different content' }));
  assert.equal(other.responseCode, 554);
  assert.match(String(other.response), /Idempotency-Key|already submitted/);
  await marker('resubmit');
  assert.equal(mailsTo('again@dest.test').length, 1);
});

test('AUTH: a wrong key is 535, a key without the send scope is 535, AUTH before STARTTLS is refused', async () => {
  const bad = await smtpFailure(starttlsTransport(p, 'pl_not_a_real_key_at_all').sendMail({ from: FROM, to: 'x@dest.test', subject: 's', text: 't' }));
  assert.equal(bad.responseCode, 535);
  assert.equal(bad.code, 'EAUTH');

  const readOnly = await p.api('POST', '/v1/tenants', { name: 'smtp-readonly', scopes: ['read'] });
  assert.equal(readOnly.status, 201, JSON.stringify(readOnly.body));
  const scoped = await smtpFailure(starttlsTransport(p, readOnly.body.api_key).sendMail({ from: FROM, to: 'x@dest.test', subject: 's', text: 't' }));
  assert.equal(scoped.responseCode, 535);
  assert.match(String(scoped.response), /send/);

  const raw = await RawSmtp.open(p.edge.smtp.submissionPort!);
  assert.equal((await raw.command('EHLO plain.test'))?.code, 250);
  const auth = await raw.command(`AUTH PLAIN ${Buffer.from(`\0u\0${p.edge.apiKey}`).toString('base64')}`);
  assert.equal(auth?.code, 538, 'no AUTH in clear text');
  assert.match(auth!.text, /STARTTLS/);
  assert.equal((await raw.command(`MAIL FROM:<${FROM}>`))?.code, 530, 'no mail without AUTH');
  raw.close();
});

test('SIZE: a message over the limit is 552 and nothing is stored', async () => {
  const before = await storedMessages();
  const big = await smtpFailure(
    starttlsTransport(p, p.edge.apiKey).sendMail({ from: FROM, to: 'big@dest.test', subject: 'big', text: 'x'.repeat(MAX_BYTES + 1024) }),
  );
  assert.equal(big.responseCode, 552);

  // Without a SIZE parameter the limit is found in DATA, which is read to its end and refused.
  const raw = await RawSmtp.open(p.edge.smtp.submissionTlsPort!, { tls: { ca: p.edge.smtp.cert! } });
  await raw.login(p.edge.apiKey);
  await raw.write(`MAIL FROM:<${FROM}>\r\nRCPT TO:<big2@dest.test>\r\nDATA\r\n`);
  assert.deepEqual([(await raw.reply())?.code, (await raw.reply())?.code, (await raw.reply())?.code], [250, 250, 354], 'pipelined MAIL, RCPT, DATA');
  const line = `${'y'.repeat(998)}\r\n`;
  await raw.write(`From: ${FROM}\r\nTo: big2@dest.test\r\nSubject: big2\r\n\r\n${line.repeat(Math.ceil(MAX_BYTES / line.length) + 10)}.\r\n`);
  const reply = await raw.reply();
  assert.equal(reply?.code, 552, JSON.stringify(reply));
  assert.equal((await raw.command('QUIT'))?.code, 221);
  assert.equal(await storedMessages(), before);
});

test('10,000 RCPTs: the first 100 are taken, every other one gets 452, and the 100 are delivered', async () => {
  const to = Array.from({ length: 10_000 }, (_, i) => `many-${i}@dest.test`);
  const info = await starttlsTransport(p, p.edge.apiKey).sendMail({
    from: FROM,
    to: 'many-0@dest.test',
    subject: 'many',
    text: 'many',
    envelope: { from: FROM, to },
  });
  assert.equal(info.accepted.length, 100);
  assert.equal(info.rejected.length, 9_900);
  const errors = (info as { rejectedErrors?: Array<{ responseCode?: number }> }).rejectedErrors ?? [];
  assert.equal(errors.filter((e) => e.responseCode === 452).length, 9_900, 'each refused RCPT answered 452');
  await waitFor(() => to.slice(0, 100).every((a) => mailsTo(a).length === 1), 30_000, '100 deliveries');
  await marker('many');
  assert.equal(to.slice(100).filter((a) => mailsTo(a).length > 0).length, 0);
});

test('a 1 MB command line is refused with 500 and the connection closed; the listener serves on', async () => {
  const raw = await RawSmtp.open(p.edge.smtp.submissionPort!);
  assert.equal((await raw.command('EHLO long.test'))?.code, 250);
  await raw.write(`MAIL FROM:<${'a'.repeat(1024 * 1024)}@x.test>\r\n`).catch(() => {});
  const reply = await raw.reply();
  assert.equal(reply?.code, 500);
  assert.match(reply!.text, /line too long/);
  assert.equal(await raw.reply(), null, 'closed');
  await marker('long-line');
});

test('a long line inside DATA is taken and delivered within RFC 5322 line limits', async () => {
  const text = 'z'.repeat(100_000);
  await starttlsTransport(p, p.edge.apiKey).sendMail({ from: FROM, to: 'longline@dest.test', subject: 'long line', text, textEncoding: 'base64' } as never);
  const [mail] = await waitFor(() => mailsTo('longline@dest.test').length === 1 && mailsTo('longline@dest.test'), 20_000, 'long line delivered');
  assert.ok(mail.raw.split('\r\n').every((l) => l.length <= 998));
  assert.equal((await simpleParser(mail.raw)).text?.trim(), text);
});

test('a client that drops mid-DATA leaves nothing accepted', async () => {
  const before = await storedMessages();
  const raw = await RawSmtp.open(p.edge.smtp.submissionTlsPort!, { tls: { ca: p.edge.smtp.cert! } });
  await raw.login(p.edge.apiKey);
  await raw.write(`MAIL FROM:<${FROM}>\r\nRCPT TO:<dropped@dest.test>\r\nDATA\r\n`);
  assert.deepEqual([(await raw.reply())?.code, (await raw.reply())?.code, (await raw.reply())?.code], [250, 250, 354]);
  await raw.write(`From: ${FROM}\r\nTo: dropped@dest.test\r\nSubject: dropped\r\n\r\nhalf a message\r\n`);
  raw.close();
  await marker('drop');
  assert.equal(mailsTo('dropped@dest.test').length, 0);
  assert.equal(await storedMessages(), before + 1, 'only the marker');
});

for (const [name, hidden] of [
  ['\\n.\\n', '\n.\n'],
  ['\\r.\\n', '\r.\n'],
  ['\\r\\n.\\n', '\r\n.\n'],
] as const) {
  test(`bare-LF smuggling (${name}) delivers neither the message nor a hidden second one`, async () => {
    const before = await storedMessages();
    const tag = Buffer.from(name).toString('hex');
    const raw = await RawSmtp.open(p.edge.smtp.submissionTlsPort!, { tls: { ca: p.edge.smtp.cert! } });
    await raw.login(p.edge.apiKey);
    await raw.write(`MAIL FROM:<${FROM}>\r\nRCPT TO:<outer-${tag}@dest.test>\r\nDATA\r\n`);
    assert.deepEqual([(await raw.reply())?.code, (await raw.reply())?.code, (await raw.reply())?.code], [250, 250, 354]);
    const smuggled = `MAIL FROM:<${FROM}>\r\nRCPT TO:<hidden-${tag}@dest.test>\r\nDATA\r\nFrom: ${FROM}\r\nTo: hidden-${tag}@dest.test\r\nSubject: smuggled\r\n\r\nsmuggled\r\n`;
    await raw.write(`From: ${FROM}\r\nTo: outer-${tag}@dest.test\r\nSubject: outer\r\n\r\nouter${hidden}${smuggled}\r\n.\r\n`);
    const reply = await raw.reply();
    assert.equal(reply?.code, 554, JSON.stringify(reply));
    assert.match(reply!.text, /bare CR or LF/);
    assert.equal((await raw.command('QUIT'))?.code, 221, 'the session is still in step: no smuggled command ran');
    await marker(`smuggle-${tag}`);
    assert.equal(mailsTo(`hidden-${tag}@dest.test`).length, 0);
    assert.equal(mailsTo(`outer-${tag}@dest.test`).length, 0);
    assert.equal(await storedMessages(), before + 1, 'only the marker');
  });
}

test('validation errors of the send path come back as SMTP replies', async () => {
  const unknownDomain = await smtpFailure(
    starttlsTransport(p, p.edge.apiKey).sendMail({ from: 'a@unregistered.test', to: 'v@dest.test', subject: 's', text: 't' }),
  );
  assert.equal(unknownDomain.responseCode, 553);
  assert.match(String(unknownDomain.response), /5\.1\.8 .*not registered/);
  const badLane = await smtpFailure(
    starttlsTransport(p, p.edge.apiKey).sendMail({ from: FROM, to: 'v@dest.test', subject: 's', text: 't', headers: { 'X-Postlane-Lane': 'nope' } }),
  );
  assert.equal(badLane.responseCode, 554);
  assert.match(String(badLane.response), /lane/);

  // A recipient the API's address rule refuses is refused at its RCPT; the others go on.
  const raw = await RawSmtp.open(p.edge.smtp.submissionTlsPort!, { tls: { ca: p.edge.smtp.cert! } });
  await raw.login(p.edge.apiKey);
  assert.equal((await raw.command(`MAIL FROM:<${FROM}>`))?.code, 250);
  // smtp-server takes a 70-octet local part; RFC 5321 §4.5.3.1.1 (and the API) allow 64.
  const long = await raw.command(`RCPT TO:<${'a'.repeat(70)}@dest.test>`);
  assert.equal(long?.code, 553, JSON.stringify(long));
  assert.match(long!.text, /^5\.1\.3 /);
  assert.equal((await raw.command('RCPT TO:<plain@dest.test>'))?.code, 250);
  assert.equal((await raw.command('QUIT'))?.code, 221);
});
