/**
 * The certificate the SMTP listeners present: POSTLANE_SMTP_TLS_CERT / POSTLANE_SMTP_TLS_KEY (PEM
 * files) when given; otherwise a self-signed one made in memory at start (`selfsigned`), good for
 * local use only: clients must trust it explicitly, and the log says so.
 */
import { readFileSync } from 'node:fs';
import { generate } from 'selfsigned';
import type { Logger } from '../../logger.ts';

export interface TlsMaterial {
  key: string;
  cert: string;
  selfSigned: boolean;
}

export async function loadTls(opts: { certPath?: string; keyPath?: string; hostname: string; logger: Logger }): Promise<TlsMaterial> {
  if (opts.certPath && opts.keyPath) {
    return { cert: readFileSync(opts.certPath, 'utf8'), key: readFileSync(opts.keyPath, 'utf8'), selfSigned: false };
  }
  const notAfterDate = new Date(Date.now() + 365 * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: opts.hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: opts.hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  opts.logger.warn(
    { certName: opts.hostname, fingerprint: pems.fingerprint },
    'SMTP TLS: no POSTLANE_SMTP_TLS_CERT/KEY given, using a self-signed certificate made at start (local use only)',
  );
  return { cert: pems.cert, key: pems.private, selfSigned: true };
}
