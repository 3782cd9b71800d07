/**
 * Sending domains: DKIM key generation (Web Crypto, so Workers and Node alike) and the DNS
 * records an operator publishes. RSA keys are 2048 bits (RFC 8301 §3.2 requires ≥ 1024 and
 * recommends 2048); Ed25519 follows RFC 8463. Selectors carry the creation date so a rotation
 * can publish the next one beside the current.
 */
import { base64 } from '../../shared/ids.ts';
import type { DomainRecordPurpose, SendingDomainRecord } from '../domain/records.ts';
import type { DomainView } from '../../shared/api.ts';
import { mergeSpf, ownershipName, ownershipValue, spfMechanisms, type DomainAuthTargets } from './domain-check.ts';

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

type DnsRecord = DomainView['dns_records'][number];

/**
 * The records a tenant publishes, each with what the last check found. Only DKIM and the
 * ownership token decide verification; SPF is a mechanism merged into the record DNS already has
 * (RFC 7208 §3.2 allows one), DMARC keeps an existing policy; MTA-STS is optional advice. No
 * record carries a value Postlane cannot know (no report mailbox, no logo URL): TLS-RPT and BIMI
 * need the tenant's own, so they are not advised.
 */
export function dnsRecords(row: SendingDomainRecord, t: DomainAuthTargets): DnsRecord[] {
  const k = row.dkimAlgorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  const checked = row.checks?.records;
  const state = (purpose: DomainRecordPurpose): Pick<DnsRecord, 'status' | 'found' | 'note'> => {
    const c = checked?.[purpose];
    if (!c) return { status: 'unchecked', found: null };
    return { status: c.status, found: c.found ?? null, ...(c.error ? { note: c.error } : {}) };
  };
  const records: DnsRecord[] = [
    { purpose: 'dkim', type: 'TXT', name: `${row.dkimSelector}._domainkey.${row.domain}`, value: `v=DKIM1; k=${k}; p=${row.dkimPublicKey}`, optional: false, ...state('dkim') },
    // Proves this tenant controls the domain's DNS: per tenant, so no one else's record counts.
    ...(row.verifyToken ? [{ purpose: 'ownership', type: 'TXT', name: ownershipName(row.domain), value: ownershipValue(row.verifyToken), optional: false, ...state('ownership') }] : []),
  ];
  // SPF (RFC 7208) on the return-path domain, which is what MAIL FROM carries.
  const mechanisms = spfMechanisms(t);
  const spf = state('spf');
  if (mechanisms.length) {
    const single = spf.found && !spf.found.includes(' | ') ? spf.found : null;
    records.push({
      purpose: 'spf', type: 'TXT', name: row.returnPathDomain, value: mergeSpf(single, mechanisms), optional: false, ...spf,
      ...(spf.note ? {} : { note: single ? `add ${mechanisms.join(' ')} to the existing record (the value is it, merged)` : `a new record; if ${row.returnPathDomain} already has one, add ${mechanisms.join(' ')} to it instead` }),
    });
  }
  if (t.intakeHost && row.returnPathDomain !== row.domain) {
    // Bounces and DSNs to the VERP return path come back to the platform's intake host.
    records.push({ purpose: 'return_path', type: 'MX', name: row.returnPathDomain, value: `10 ${t.intakeHost}`, optional: false, ...state('return_path') });
  }
  // DMARC (RFC 7489): an existing policy stands; a new one starts at p=none, with no report address
  // (rua=) since only the tenant knows a mailbox it reads.
  const dmarc = state('dmarc');
  records.push({ purpose: 'dmarc', type: 'TXT', name: `_dmarc.${row.domain}`, value: dmarc.status === 'ok' && dmarc.found ? dmarc.found : 'v=DMARC1; p=none; adkim=r; aspf=r', optional: false, ...dmarc });
  // MTA-STS (RFC 8461 §3.1) protects mail *to* the domain; it needs the policy file served too.
  const stsId = new Date(row.createdAt).toISOString().slice(0, 10).replace(/-/g, '');
  records.push({
    purpose: 'mta-sts', type: 'TXT', name: `_mta-sts.${row.domain}`, value: `v=STSv1; id=${stsId}`, optional: true, status: 'skipped', found: null,
    note: `optional; publish only with a policy at https://mta-sts.${row.domain}/.well-known/mta-sts.txt (RFC 8461 §3.2)`,
  });
  return records;
}

/** What the tenant must still publish for the domain to verify, each as `TYPE name = "value"`. */
export function missingRequired(row: SendingDomainRecord): string[] {
  return dnsRecords(row, { spfInclude: null, intakeHost: null, sourceIps: [] })
    .filter((r) => (r.purpose === 'dkim' || r.purpose === 'ownership') && r.status !== 'ok')
    .map((r) => `${r.type} ${r.name} = "${r.value}" (${r.purpose}: ${r.status})`);
}

export function domainView(row: SendingDomainRecord, t: DomainAuthTargets): DomainView {
  return {
    id: row.id,
    domain: row.domain,
    status: row.status,
    dkim_selector: row.dkimSelector,
    dkim_algorithm: row.dkimAlgorithm,
    return_path_domain: row.returnPathDomain,
    created_at: new Date(row.createdAt).toISOString(),
    checked_at: row.checkedAt === null ? null : new Date(row.checkedAt).toISOString(),
    verified_at: row.verifiedAt === null ? null : new Date(row.verifiedAt).toISOString(),
    check_error: row.checks?.error ?? null,
    dns_records: dnsRecords(row, t),
  };
}
