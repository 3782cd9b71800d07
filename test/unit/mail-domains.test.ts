/** Recipient-domain checks against a real resolver (node:dns) asking a DNS server on loopback. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dnsMailDomains } from '../../edge/adapters/dns-mail-domains.ts';
import { dohMailDomains } from '../../edge/adapters/doh-mail-domains.ts';

describe('MailDomains over DNS', () => {
  let dns: TestDnsServer;
  before(async () => {
    dns = await startDnsServer({
      'mx.test': { mx: [{ preference: 10, exchange: 'mail.mx.test' }] },
      'implicit.test': { a: ['192.0.2.1'] },
      'implicit6.test': { aaaa: ['2001:db8::1'] },
      'nullmx.test': { mx: [{ preference: 0, exchange: '.' }] },
      'empty.test': {},
      'broken.test': { servfail: true },
    });
  });
  after(() => dns.stop());

  test('MX, implicit MX (RFC 5321 §5.1), null MX (RFC 7505), NXDOMAIN and resolver failure', async () => {
    const domains = dnsMailDomains({ servers: [dns.address], timeoutMs: 1_000 });
    assert.equal(await domains.acceptsMail('mx.test'), true);
    assert.equal(await domains.acceptsMail('implicit.test'), true);
    assert.equal(await domains.acceptsMail('implicit6.test'), true);
    assert.equal(await domains.acceptsMail('nullmx.test'), false);
    assert.equal(await domains.acceptsMail('empty.test'), false);
    assert.equal(await domains.acceptsMail('nothing-here.test'), false);
    assert.equal(await domains.acceptsMail('broken.test'), null, 'a failing resolver is "unknown", never "no"');
  });

  test('a resolver that is down is "unknown", not "no", and answers within the deadline', async () => {
    // A port nobody listens on any more.
    const silent = await startDnsServer({});
    const address = silent.address;
    await silent.stop();
    const domains = dnsMailDomains({ servers: [address], timeoutMs: 300 });
    const t0 = Date.now();
    assert.equal(await domains.acceptsMail('mx.test'), null);
    assert.ok(Date.now() - t0 < 1_500, `took ${Date.now() - t0} ms`);
  });
});

describe('MailDomains over DNS-over-HTTPS (the Worker adapter)', () => {
  let server: Server;
  let endpoint: string;
  const queries: string[] = [];
  // What a DoH JSON resolver answers (Status per RFC 1035 rcode; type numbers per RFC 1035/3596).
  const answers: Record<string, { Status: number; Answer?: Array<{ type: number; data: string; TTL: number }> }> = {
    'mx.test/15': { Status: 0, Answer: [{ type: 15, data: '10 mail.mx.test.', TTL: 300 }] },
    'nullmx.test/15': { Status: 0, Answer: [{ type: 15, data: '0 .', TTL: 300 }] },
    'implicit.test/15': { Status: 0 },
    'implicit.test/1': { Status: 0, Answer: [{ type: 1, data: '192.0.2.1', TTL: 300 }] },
    'empty.test/15': { Status: 0 },
    'empty.test/1': { Status: 0 },
    'empty.test/28': { Status: 0 },
    'broken.test/15': { Status: 2 },
  };
  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const key = `${url.searchParams.get('name')}/${url.searchParams.get('type')}`;
      queries.push(key);
      if (req.headers.accept !== 'application/dns-json') return void res.writeHead(415).end();
      res.writeHead(200, { 'content-type': 'application/dns-json' }).end(JSON.stringify(answers[key] ?? { Status: 3 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('the same answers as the resolver adapter, cached', async () => {
    const domains = dohMailDomains({ endpoint, timeoutMs: 1_000 });
    assert.equal(await domains.acceptsMail('mx.test'), true);
    assert.equal(await domains.acceptsMail('implicit.test'), true);
    assert.equal(await domains.acceptsMail('nullmx.test'), false);
    assert.equal(await domains.acceptsMail('empty.test'), false);
    assert.equal(await domains.acceptsMail('nothing.test'), false);
    assert.equal(await domains.acceptsMail('broken.test'), null);
    const before = queries.length;
    assert.equal(await domains.acceptsMail('MX.test.'), true);
    assert.equal(queries.length, before, 'answered from the cache');
  });
});
