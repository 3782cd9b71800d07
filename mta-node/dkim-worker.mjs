// DKIM signing worker (plain ESM so it starts without tsx). Receives
// { id, raw, key: { domain, selector, algorithm, privateKeyPem } } and answers
// { id, signatures } or { id, error }. Signing is mailauth's dkimSign (RFC 6376; Ed25519 per RFC 8463).
import { parentPort } from 'node:worker_threads';
import mailauth from 'mailauth';

parentPort.on('message', async ({ id, raw, key }) => {
  try {
    const res = await mailauth.dkimSign(raw, {
      canonicalization: 'relaxed/relaxed',
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
