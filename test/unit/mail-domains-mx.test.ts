/** The MX hosts both MailDomains adapters give accept, to recognise a provider-hosted custom domain. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer } from '../helpers/dns-server.ts';
import { dnsMailDomains } from '../../edge/adapters/dns-mail-domains.ts';
import { dohMailDomains } from '../../edge/adapters/doh-mail-domains.ts';

test('Node: MX hosts most preferred first; [] without MX; null when DNS fails', async () => {
  const dns = await startDnsServer({
    'ws.test': { mx: [{ preference: 5, exchange: 'alt1.aspmx.l.google.com' }, { preference: 1, exchange: 'aspmx.l.google.com' }] },
    'implicit.test': { a: ['192.0.2.1'] },
    'broken.test': { servfail: true },
  });
  try {
    const d = dnsMailDomains({ servers: [dns.address], timeoutMs: 1_000 });
    assert.deepEqual(await d.mxHosts!('ws.test'), ['aspmx.l.google.com', 'alt1.aspmx.l.google.com']);
    assert.deepEqual(await d.mxHosts!('implicit.test'), []);
    assert.equal(await d.mxHosts!('broken.test'), null);
  } finally {
    await dns.stop();
  }
});

test('DoH (Workers): MX hosts from the JSON answer, one query per domain for both questions; null when the resolver fails', async () => {
  const asked: string[] = [];
  const fake = (async (url: string) => {
    asked.push(url);
    const name = new URL(url).searchParams.get('name');
    if (name === 'down.test') return new Response('', { status: 502 });
    return Response.json({ Status: 0, Answer: [{ type: 15, data: '10 alt1.aspmx.l.google.com.', TTL: 300 }, { type: 15, data: '1 ASPMX.L.GOOGLE.COM.', TTL: 300 }] });
  }) as typeof fetch;
  const d = dohMailDomains({ fetch: fake });
  assert.deepEqual(await d.mxHosts!('ws.test'), ['aspmx.l.google.com', 'alt1.aspmx.l.google.com']);
  assert.equal(await d.acceptsMail('ws.test'), true);
  assert.equal(asked.length, 1, 'the cache answers the second question');
  assert.equal(await d.mxHosts!('down.test'), null);
});
