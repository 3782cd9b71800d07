/**
 * DKIM keys and domain shaping state are per sending-domain record (tenant, domain), not per
 * domain name: a second tenant registering a name another tenant already sends from must neither
 * sign with the owner's key nor break the owner's signing, nor see the owner's domain breaker.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate } from 'mailauth';
import { startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';

const DOMAIN = 'example-owned.test';
type DnsRecord = { purpose: string; name: string; value: string };

let sink: Sink;
let p: Platform;
const as = (key: string) => ({ authorization: `Bearer ${key}` });

before(async () => {
  sink = await startSink();
  p = await startPlatform({ sinkPort: sink.port });
  await p.startNode();
});

after(async () => {
  await p?.stop();
  await sink?.close();
});

async function tenant(name: string): Promise<{ id: string; key: string }> {
  const t = await p.api('POST', '/v1/tenants', { name });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  return { id: t.body.id, key: t.body.api_key };
}

async function register(key: string): Promise<{ selector: string; dkim: DnsRecord }> {
  const res = await p.api('POST', '/v1/domains', { domain: DOMAIN, dkim_algorithm: 'rsa-sha256' }, as(key));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { selector: res.body.dkim_selector, dkim: (res.body.dns_records as DnsRecord[]).find((r) => r.purpose === 'dkim')! };
}

/** Sends `n` messages as the tenant and returns the DKIM verdict of each delivered copy against `dkim`. */
async function sendAndVerify(key: string, tag: string, n: number, dkim: DnsRecord) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await p.api('POST', '/v1/messages', { from: `hello@${DOMAIN}`, to: `rcpt-${tag}-${i}@dest.test`, subject: `${tag} ${i}`, text: `message ${tag} ${i}` }, as(key));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push(res.body.id);
  }
  const mails = await waitFor(() => {
    const got = ids.map((id) => sink.mails.find((m) => m.raw.includes(id)));
    return got.every(Boolean) && (got as NonNullable<(typeof got)[number]>[]);
  }, 20_000, `${n} deliveries of ${tag}`);
  const verdicts: Array<{ result: string; selector: string | undefined }> = [];
  for (const mail of mails) {
    const r = await authenticate(mail.raw, {
      ip: '127.0.0.1',
      helo: 'mta.test',
      sender: mail.from,
      trustReceived: false,
      resolver: async (name: string, type: string) => {
        if (type === 'TXT' && name === dkim.name) return [[dkim.value]];
        const err = new Error('not found') as Error & { code: string };
        err.code = 'ENOTFOUND';
        throw err;
      },
    });
    const sig = r.dkim.results[0];
    verdicts.push({ result: sig?.status.result ?? 'none', selector: sig?.selector });
  }
  return verdicts;
}

test('two tenants with the same domain name each sign with their own key, and neither breaks the other', async () => {
  const a = await tenant('owner-a');
  const b = await tenant('second-b');
  const aDomain = await register(a.key);

  const first = await sendAndVerify(a.key, 'a1', 20, aDomain.dkim);
  assert.deepEqual(first.filter((v) => v.result === 'pass').length, 20, JSON.stringify(first));
  assert.ok(first.every((v) => v.selector === aDomain.selector));

  const bDomain = await register(b.key);
  assert.notEqual(bDomain.dkim.value, aDomain.dkim.value, 'B has a key of its own');

  const bMails = await sendAndVerify(b.key, 'b1', 20, bDomain.dkim);
  assert.equal(bMails.filter((v) => v.result === 'pass').length, 20, `B signed with B's key: ${JSON.stringify(bMails)}`);
  assert.ok(bMails.every((v) => v.selector === bDomain.selector));
  // And none of B's mail verifies with A's published key.
  const bAgainstA = await sendAndVerify(b.key, 'b2', 5, aDomain.dkim);
  assert.equal(bAgainstA.filter((v) => v.result === 'pass').length, 0, `B's mail must not pass with A's key: ${JSON.stringify(bAgainstA)}`);

  const again = await sendAndVerify(a.key, 'a2', 20, aDomain.dkim);
  assert.equal(again.filter((v) => v.result === 'pass').length, 20, `A still signs with A's key: ${JSON.stringify(again)}`);
  assert.ok(again.every((v) => v.selector === aDomain.selector));

  // Domain breakers are per (tenant, domain): B does not see A's.
  const repB = await p.api('GET', '/v1/reputation', undefined, as(b.key));
  assert.equal(repB.status, 200, JSON.stringify(repB.body));
  const domainBreakers = (repB.body.breakers as Array<Record<string, unknown>>).filter((x) => x.scope === 'domain');
  assert.ok(domainBreakers.every((x) => x.tenant === b.id), `B sees only its own domain breakers: ${JSON.stringify(domainBreakers)}`);
  assert.ok(domainBreakers.some((x) => x.domain === DOMAIN), `B sees its own breaker of ${DOMAIN}: ${JSON.stringify(domainBreakers)}`);
  const repA = await p.api('GET', '/v1/reputation', undefined, as(a.key));
  const aBreakers = (repA.body.breakers as Array<Record<string, unknown>>).filter((x) => x.scope === 'domain');
  assert.deepEqual(aBreakers.map((x) => [x.tenant, x.domain]), [[a.id, DOMAIN]], JSON.stringify(aBreakers));
});
