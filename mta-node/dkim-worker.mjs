// DKIM signing worker (plain ESM so it starts without tsx). Receives
// { id, raw, key: { domain, selector, algorithm, privateKeyPem }, signTime, headerList } and answers
// { id, signatures } or { id, error }. Signing is mailauth's dkimSign (RFC 6376; Ed25519 per RFC 8463).
import { parentPort } from 'node:worker_threads';
import crypto from 'node:crypto';
import mailauth from 'mailauth';

// mailauth turns the PEM into a key object on every signature (lib/tools.js getPrivateKey calls
// crypto.createPrivateKey), and parsing an RSA-2048 PEM costs more than signing with it. In this
// thread only, key objects are kept per PEM, so each key is parsed once per worker.
const parsePrivateKey = crypto.createPrivateKey;
const parsedKeys = new Map();
const MAX_PARSED_KEYS = 1000;
crypto.createPrivateKey = (options) => {
  const pem = options && typeof options === 'object' && options.format === 'pem' && Buffer.isBuffer(options.key) ? options.key.toString('latin1') : null;
  if (pem === null) return parsePrivateKey(options);
  let key = parsedKeys.get(pem);
  if (!key) {
    key = parsePrivateKey(options);
    if (parsedKeys.size >= MAX_PARSED_KEYS) parsedKeys.delete(parsedKeys.keys().next().value);
    parsedKeys.set(pem, key);
  }
  return key;
};

parentPort.on('message', async ({ id, raw, key, signTime, headerList }) => {
  try {
    const res = await mailauth.dkimSign(raw, {
      canonicalization: 'relaxed/relaxed',
      // One timestamp for the hashed and the emitted t= tag (mailauth reads the clock twice
      // otherwise; see signInThread in dkim.ts).
      signTime: new Date(signTime),
      // The signed fields (h=), from dkim.ts: List-Unsubscribe-Post included (RFC 8058 §4).
      headerList,
      signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKeyPem, algorithm: key.algorithm }],
    });
    if (res.errors?.length || !res.signatures.trim()) {
      const e = res.errors?.[0]?.err;
      parentPort.postMessage({ id, error: e ? String(e.message ?? e) : 'no signature produced' });
    } else {
      parentPort.postMessage({ id, signatures: res.signatures });
    }
  } catch (err) {
    parentPort.postMessage({ id, error: String(err?.message ?? err) });
  }
});
