/**
 * Sending domains: DKIM key generation (Web Crypto, so Workers and Node alike) and the DNS
 * records an operator publishes. RSA keys are 2048 bits (RFC 8301 §3.2 requires ≥ 1024 and
 * recommends 2048); Ed25519 follows RFC 8463. Selectors carry the creation date so a rotation
 * can publish the next one beside the current.
 */
import { base64 } from '../../shared/ids.ts';
import type { SendingDomainRecord } from '../domain/records.ts';
import type { DomainView } from '../../shared/api.ts';

export interface DkimKeyPair {
  privateKeyPem: string;
  /** The p= value of the DKIM record. */
  publicKey: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = base64(new Uint8Array(der)).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

export async function generateDkimKey(algorithm: 'rsa-sha256' | 'ed25519-sha256'): Promise<DkimKeyPair> {
  if (algorithm === 'ed25519-sha256') {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const privateKey = await crypto.subtle.exportKey('pkcs8', pair.privateKey);
    // RFC 8463 §4: p= is the raw 32-byte public key, not a SubjectPublicKeyInfo.
    const raw = await crypto.subtle.exportKey('raw', pair.publicKey);
    return { privateKeyPem: pem('PRIVATE KEY', privateKey), publicKey: base64(new Uint8Array(raw)) };
  }
  const pair = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const privateKey = await crypto.subtle.exportKey('pkcs8', pair.privateKey);
  // RFC 6376 §3.6.1: p= is the base64 of the DER SubjectPublicKeyInfo.
  const spki = await crypto.subtle.exportKey('spki', pair.publicKey);
  return { privateKeyPem: pem('PRIVATE KEY', privateKey), publicKey: base64(new Uint8Array(spki)) };
}

export function selectorFor(date: Date): string {
  return `pl${date.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

export function dnsRecords(row: SendingDomainRecord, sourceIps: string[]): DomainView['dns_records'] {
  const k = row.dkimAlgorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  const spfIps = [...new Set(sourceIps)].map((ip) => (ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`));
  const stsId = new Date(row.createdAt).toISOString().slice(0, 10).replace(/-/g, '');
  return [
    { purpose: 'dkim', type: 'TXT', name: `${row.dkimSelector}._domainkey.${row.domain}`, value: `v=DKIM1; k=${k}; p=${row.dkimPublicKey}` },
    // SPF (RFC 7208) on the return-path domain, which is what MAIL FROM carries.
    { purpose: 'spf', type: 'TXT', name: row.returnPathDomain, value: `v=spf1 ${[...spfIps, 'mx'].join(' ')} ~all` },
    // DMARC (RFC 7489) starts at p=none, collecting reports before it is tightened.
    { purpose: 'dmarc', type: 'TXT', name: `_dmarc.${row.domain}`, value: `v=DMARC1; p=none; rua=mailto:dmarc-reports@${row.domain}; adkim=r; aspf=r` },
    // MTA-STS (RFC 8461 §3.1) and TLS reporting (RFC 8460 §3).
    { purpose: 'mta-sts', type: 'TXT', name: `_mta-sts.${row.domain}`, value: `v=STSv1; id=${stsId}` },
    { purpose: 'tls-rpt', type: 'TXT', name: `_smtp._tls.${row.domain}`, value: `v=TLSRPTv1; rua=mailto:tls-reports@${row.domain}` },
    { purpose: 'bimi', type: 'TXT', name: `default._bimi.${row.domain}`, value: `v=BIMI1; l=https://${row.domain}/bimi/logo.svg; a=` },
  ];
}

export function domainView(row: SendingDomainRecord, sourceIps: string[]): DomainView {
  return {
    id: row.id,
    domain: row.domain,
    status: row.status,
    dkim_selector: row.dkimSelector,
    dkim_algorithm: row.dkimAlgorithm,
    return_path_domain: row.returnPathDomain,
    created_at: new Date(row.createdAt).toISOString(),
    dns_records: dnsRecords(row, sourceIps),
  };
}
