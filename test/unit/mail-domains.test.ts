/** Recipient-domain checks against a real resolver (node:dns) asking a DNS server on loopback. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { dnsMailDomains } from '../../edge/adapters/dns-mail-domains.ts';

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
