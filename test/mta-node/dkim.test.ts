// DKIM signatures verify, every one: signed by DkimSignerPool (worker threads and in-thread) and
// verified by mailauth's own dkimVerify with the published key. The `t=` tag must be the same in
// the hashed header and the emitted one (mailauth reads the clock twice unless given signTime).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dkimVerify } from 'mailauth';
import { DkimSignerPool } from '../../mta-node/dkim.ts';
import { dkimKey } from './helpers.ts';

const RAW = 'From: a@sender.test\r\nTo: b@dest.test\r\nSubject: t= tag\r\nMessage-ID: <m@sender.test>\r\n\r\nbody\r\n';

function resolverFor(selector: string, domain: string, txt: string) {
  return async (name: string, type: string) => {
    if (type === 'TXT' && name === `${selector}._domainkey.${domain}`) return [[txt]];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
}

async function verify(signed: string, resolver: ReturnType<typeof resolverFor>) {
  const res = await dkimVerify(signed, { resolver } as Parameters<typeof dkimVerify>[1]);
  return res.results[0]?.status.result;
}

test('in-thread signing: a clock that moves between mailauth reads of it still yields a valid signature', async () => {
  const { key, txt } = dkimKey('ed25519-sha256');
  const resolver = resolverFor(key.selector, key.domain, txt);
  const signer = new DkimSignerPool({ size: 0 });
  const realNow = Date.now;
  const start = realNow();
  let calls = 0;
  // Every read of the clock is 700 ms later than the one before: any second read of it inside
  // mailauth lands on another second, so a t= taken twice would differ from the signed one.
  Date.now = () => start + 700 * calls++;
  let signed: string;
  try {
    signed = await signer.sign(RAW, key);
  } finally {
    Date.now = realNow;
  }
  assert.ok(calls >= 1);
  assert.equal(await verify(signed, resolver), 'pass');
  await signer.close();
});

test('worker signing puts the given sign time in t=', async () => {
  const { key } = dkimKey('ed25519-sha256');
  const signer = new DkimSignerPool({ size: 1 });
  try {
    const at = Date.UTC(2026, 0, 1, 12, 0, 0, 499);
    const sig = await signer.signatures(RAW, key, at);
    assert.match(sig.replace(/\r\n\s+/g, ' '), new RegExp(`\\bt=${Math.floor(at / 1000)};`));
  } finally {
    await signer.close();
  }
});

test('5,000 RSA-2048 signatures from the worker pool all verify with mailauth', async () => {
  const { key, txt } = dkimKey('rsa-sha256');
  const resolver = resolverFor(key.selector, key.domain, txt);
  const signer = new DkimSignerPool({ size: 2 });
  const failures: number[] = [];
  try {
    const total = 5000;
    const chunk = 100;
    for (let base = 0; base < total; base += chunk) {
      const signed = await Promise.all(
        Array.from({ length: chunk }, (_, i) => signer.sign(RAW.replace('body', `body ${base + i}`), key)),
      );
      const results = await Promise.all(signed.map((s) => verify(s, resolver)));
      results.forEach((r, i) => r !== 'pass' && failures.push(base + i));
    }
  } finally {
    await signer.close();
  }
  assert.deepEqual(failures, [], `${failures.length} of 5000 signatures did not verify`);
});
