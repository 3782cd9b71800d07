import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { authenticate } from 'mailauth';
import { deliverJob as deliverOrRelease, resultFromError, remoteId } from '../../mta-node/deliver.ts';
import { DkimSignerPool, normalizeLineEnds } from '../../mta-node/dkim.ts';
import { MxResolver } from '../../mta-node/mx.ts';
import { SmtpPools, type SmtpTimeouts } from '../../mta-node/smtp-pool.ts';
import type { SourceIp } from '../../shared/protocol.ts';
import { RAW, dkimKey, job, selfSignedCert, smtpError, startSink } from './helpers.ts';
import type { DeliveryResult } from '../../shared/protocol.ts';

/** These tests never bound the wait for a session, so every job is started (never given back). */
async function deliverJob(...args: Parameters<typeof deliverOrRelease>): Promise<DeliveryResult | null> {
  const r = await deliverOrRelease(...args);
  assert.ok(r === null || !('release' in r), 'the job was started');
  return r as DeliveryResult | null;
}

const SOURCE: SourceIp = { address: '127.0.0.1', pool: 'default', ehlo: 'mta1.sender.test' };
const FAST: SmtpTimeouts = { connectMs: 1_000, greetingMs: 300, commandMs: 1_000, dataMs: 2_000 };

function setup(port: number, timeouts: SmtpTimeouts = FAST) {
  const mx = new MxResolver({ routes: new Map([['dest.test', { host: '127.0.0.1', port }]]) });
  const pools = new SmtpPools(timeouts);
  return { mx, pools, opts: { mx, pools, ips: [SOURCE] } };
}

for (const algorithm of ['rsa-sha256', 'ed25519-sha256'] as const) {
  test(`delivers intact with VERP envelope and a DKIM signature that verifies (${algorithm})`, async () => {
    const sink = await startSink();
    const { pools, opts } = setup(sink.port);
    const signer = new DkimSignerPool({ size: 1 });
    try {
      const { key, txt } = dkimKey(algorithm);
      const j = job({ dkimDomain: key.domain, dkimKeyId: key.keyId });
      const signed = Buffer.from(await signer.sign(RAW, key));
      const result = await deliverJob(j, signed, SOURCE, opts);
      assert.ok(result);
      assert.equal(result.outcome, 'delivered', JSON.stringify(result));
      assert.equal(result.reply?.code, 250);
      assert.equal(result.stage, 'DATA');
      assert.equal(result.mx, `127.0.0.1:${sink.port}`);
      assert.equal(result.sourceIp, '127.0.0.1');
      assert.equal(result.tls, null);
      assert.match(result.error ?? '', /remote id Q1D2345/);
      assert.equal(sink.mails.length, 1);
      const mail = sink.mails[0];
      assert.equal(mail.from, j.envelopeFrom);
      assert.deepEqual(mail.to, [j.recipient]);
      assert.ok(mail.raw.endsWith(RAW), 'headers and body arrive intact (dot-unstuffed by the server)');
      assert.match(mail.raw, /^DKIM-Signature: /);
      const res = await authenticate(mail.raw, {
        ip: '127.0.0.1',
        helo: SOURCE.ehlo,
        sender: j.envelopeFrom,
        mta: 'mx.dest.test',
        disableArc: true,
        disableDmarc: true,
        disableBimi: true,
        resolver: async (name: string, type: string) => {
          if (type === 'TXT' && name === `${key.selector}._domainkey.${key.domain}`) return [[txt]];
          throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
        },
      });
      const dkim = res.dkim.results[0];
      assert.equal(dkim.status.result, 'pass', JSON.stringify(dkim.status));
      assert.equal(dkim.signingDomain, key.domain);
    } finally {
      await pools.close();
      await signer.close();
      await sink.close();
    }
  });
}

test('several jobs to one destination share one connection', async () => {
  const sink = await startSink();
  const { pools, opts } = setup(sink.port);
  try {
    const body = Buffer.from(RAW);
    const jobs = Array.from({ length: 6 }, () => job());
    const results = await Promise.all(jobs.map((j) => deliverJob(j, body, SOURCE, { ...opts, limits: { maxConnections: 1 } })));
    assert.deepEqual(results.map((r) => r?.outcome), Array(6).fill('delivered'));
    assert.equal(sink.mails.length, 6);
    assert.equal(sink.connections, 1);
    assert.deepEqual(sink.mails.map((m) => m.from).sort(), jobs.map((j) => j.envelopeFrom).sort());
  } finally {
    await pools.close();
    await sink.close();
  }
});

test('messages per connection are capped', async () => {
  const sink = await startSink();
  const { pools, opts } = setup(sink.port);
  try {
    const body = Buffer.from(RAW);
    const limits = { maxConnections: 1, maxMessagesPerConnection: 2 };
    for (let i = 0; i < 4; i++) await deliverJob(job(), body, SOURCE, { ...opts, limits });
    assert.equal(sink.mails.length, 4);
    assert.equal(sink.connections, 2);
  } finally {
    await pools.close();
    await sink.close();
  }
});

test('4xx is deferred and 5xx bounced with code, enhanced code and text; the session carries on after RSET', async () => {
  const sink = await startSink({
    onRcpt: (to) =>
      to.startsWith('full') ? smtpError(452, '4.2.2 Mailbox full, try later') : to.startsWith('nobody') ? smtpError(550, '5.1.1 No such user here') : null,
  });
  const { pools, opts } = setup(sink.port);
  try {
    const body = Buffer.from(RAW);
    const limits = { maxConnections: 1 };
    const deferred = await deliverJob(job({ recipient: 'full@dest.test' }), body, SOURCE, { ...opts, limits });
    assert.equal(deferred?.outcome, 'deferred');
    assert.deepEqual(deferred?.reply, { code: 452, enhanced: '4.2.2', text: 'Mailbox full, try later' });
    assert.equal(deferred?.stage, 'RCPT TO');
    const bounced = await deliverJob(job({ recipient: 'nobody@dest.test' }), body, SOURCE, { ...opts, limits });
    assert.equal(bounced?.outcome, 'bounced');
    assert.deepEqual(bounced?.reply, { code: 550, enhanced: '5.1.1', text: 'No such user here' });
    assert.equal(bounced?.stage, 'RCPT TO');
    const ok = await deliverJob(job(), body, SOURCE, { ...opts, limits });
    assert.equal(ok?.outcome, 'delivered');
    assert.equal(sink.connections, 1);
  } finally {
    await pools.close();
    await sink.close();
  }
});

test('connection refused is deferred at stage CONN with no reply', async () => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const { pools, opts } = setup(port);
  try {
    const r = await deliverJob(job(), Buffer.from(RAW), SOURCE, opts);
    assert.equal(r?.outcome, 'deferred');
    assert.equal(r?.reply, null);
    assert.equal(r?.stage, 'CONN');
    assert.match(r?.error ?? '', /ECONNREFUSED|ESOCKET|ECONNECTION/);
  } finally {
    await pools.close();
  }
});

test('a server that never greets is deferred within the greeting timeout', async () => {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => sockets.add(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { pools, opts } = setup((srv.address() as net.AddressInfo).port);
  try {
    const t0 = Date.now();
    const r = await deliverJob(job(), Buffer.from(RAW), SOURCE, opts);
    const took = Date.now() - t0;
    assert.equal(r?.outcome, 'deferred');
    assert.equal(r?.stage, 'CONN');
    assert.equal(r?.reply, null);
    assert.match(r?.error ?? '', /ETIMEDOUT/);
    assert.ok(took >= FAST.greetingMs - 20 && took < FAST.greetingMs + 700, `took ${took} ms`);
  } finally {
    await pools.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('STARTTLS when offered; the TLS version is recorded', async (t) => {
  const cert = selfSignedCert();
  if (!cert) return t.skip('openssl not available');
  const sink = await startSink({ key: cert.key, cert: cert.cert });
  const { pools, opts } = setup(sink.port);
  try {
    const r = await deliverJob(job(), Buffer.from(RAW), SOURCE, opts);
    assert.equal(r?.outcome, 'delivered', JSON.stringify(r));
    assert.match(r?.tls ?? '', /^TLSv1\.[23]$/);
    assert.equal(sink.mails[0].session.secure, true);
  } finally {
    await pools.close();
    await sink.close();
  }
});

test('requireTls refuses a server without STARTTLS', async () => {
  const sink = await startSink();
  const { pools, opts } = setup(sink.port);
  try {
    const r = await deliverJob(job({ requireTls: true }), Buffer.from(RAW), SOURCE, opts);
    assert.equal(r?.outcome, 'deferred');
    assert.equal(r?.stage, 'STARTTLS');
    assert.equal(sink.mails.length, 0);
  } finally {
    await pools.close();
    await sink.close();
  }
});

test('bare CR and LF are normalised to CRLF; a lone dot line cannot end DATA early (smuggling)', async () => {
  const sink = await startSink();
  const { pools, opts } = setup(sink.port);
  try {
    const raw = 'From: a@sender.test\nSubject: x\r\n\r\nline1\n.\rMAIL FROM:<evil@x>\r\nline3\r\n.\r\nafter\n';
    const body = Buffer.from(normalizeLineEnds(raw));
    const r = await deliverJob(job(), body, SOURCE, { ...opts, limits: { maxConnections: 1 } });
    assert.equal(r?.outcome, 'delivered');
    assert.equal(sink.mails.length, 1);
    assert.equal(sink.mails[0].raw, 'From: a@sender.test\r\nSubject: x\r\n\r\nline1\r\n.\r\nMAIL FROM:<evil@x>\r\nline3\r\n.\r\nafter\r\n');
  } finally {
    await pools.close();
    await sink.close();
  }
});

test('a lease that expired before the transaction is dropped without sending', async () => {
  const sink = await startSink();
  const { pools, opts } = setup(sink.port);
  try {
    const r = await deliverJob(job(), Buffer.from(RAW), SOURCE, opts, () => false);
    assert.equal(r, null);
    assert.equal(sink.mails.length, 0);
  } finally {
    await pools.close();
    await sink.close();
  }
});

test('null MX bounces at stage DNS; resolver failure defers; implicit MX uses the A record', async () => {
  const ctx = (domain: string) => job({ domain, recipient: `x@${domain}` });
  const dns = {
    resolveMx: async (name: string) => {
      if (name === 'nullmx.test') return [{ exchange: '', priority: 0 }];
      if (name === 'implicit.test') throw Object.assign(new Error('nodata'), { code: 'ENODATA' });
      if (name === 'broken.test') throw Object.assign(new Error('servfail'), { code: 'ESERVFAIL' });
      return [{ exchange: 'mx2.multi.test', priority: 20 }, { exchange: 'mx1.multi.test', priority: 10 }];
    },
    resolve4: async (name: string) => {
      if (name === 'implicit.test') return [{ address: '192.0.2.1', ttl: 60 }];
      throw Object.assign(new Error('nodata'), { code: 'ENODATA' });
    },
    resolve6: async () => {
      throw Object.assign(new Error('nodata'), { code: 'ENODATA' });
    },
  };
  const mx = new MxResolver({ resolver: dns });
  const pools = new SmtpPools(FAST);
  try {
    const r1 = await deliverJob(ctx('nullmx.test'), Buffer.from(RAW), SOURCE, { mx, pools, ips: [SOURCE] });
    assert.equal(r1?.outcome, 'bounced');
    assert.equal(r1?.stage, 'DNS');
    assert.match(r1?.error ?? '', /RFC 7505/);
    const r2 = await deliverJob(ctx('broken.test'), Buffer.from(RAW), SOURCE, { mx, pools, ips: [SOURCE] });
    assert.equal(r2?.outcome, 'deferred');
    assert.equal(r2?.stage, 'DNS');
    assert.deepEqual(await mx.resolve('implicit.test'), { kind: 'ok', route: 'implicit', hosts: [{ host: 'implicit.test', port: 25, preference: 0 }] });
    const multi = await mx.resolve('multi.test');
    assert.equal(multi.kind, 'ok');
    if (multi.kind === 'ok') assert.deepEqual(multi.hosts.map((h) => h.host), ['mx1.multi.test', 'mx2.multi.test']);
  } finally {
    await pools.close();
  }
});

test('the error builder maps nodemailer errors and reads remote ids', () => {
  const ctx = { job: job(), mx: 'mx:25', sourceIp: '127.0.0.1', tls: null, startedAt: 1 };
  const e = Object.assign(new Error('Message failed: 421 4.7.28 slow down'), { code: 'EMESSAGE', response: '421 4.7.28 slow down', responseCode: 421, command: 'DATA' });
  const r = resultFromError(ctx, e);
  assert.equal(r.outcome, 'deferred');
  assert.deepEqual(r.reply, { code: 421, enhanced: '4.7.28', text: 'slow down' });
  assert.equal(r.stage, 'DATA');
  assert.equal(remoteId('2.0.0 OK  1700000000 a1b2c3d4e5-gsmtp'), 'a1b2c3d4e5-gsmtp');
  assert.equal(remoteId('Ok: queued as 4ABCD123'), '4ABCD123');
});
