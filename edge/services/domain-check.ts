/**
 * Sending-domain verification against real DNS. A domain is verified for a tenant when DNS
 * holds both its DKIM key (`<selector>._domainkey.<domain>` TXT with the p= the store has) and
 * the tenant's ownership token (`_postlane.<domain>` TXT `postlane-verify=<token>`); SPF, DMARC
 * and the return path's MX are checked and reported per record but do not decide the status.
 *
 * A lookup that fails (SERVFAIL, timeout) never moves the status: the check keeps it and records
 * the error. A verified domain whose DKIM key or token is gone becomes `failed`. One tenant at a
 * time holds a domain verified (a unique index on the store decides); another tenant's attempt
 * is refused. Every status change is a policy event (type `domain`, scope `domain_auth`, key =
 * the domain's id).
 */
import type { DomainChecks, DomainRecordPurpose, RecordCheck, SendingDomainRecord } from '../domain/records.ts';
import type { DnsRecords, Lookup } from '../ports/dns-records.ts';
import type { DomainStore } from '../ports/store.ts';
import { policyEvent, policyRecord } from '../../shared/events/index.ts';
import { base64 } from '../../shared/ids.ts';
import type { Logger } from '../logger.ts';

export const OWNERSHIP_LABEL = '_postlane';
export const OWNERSHIP_PREFIX = 'postlane-verify=';
/** The records that decide verification. */
export const REQUIRED_RECORDS = ['dkim', 'ownership'] as const satisfies readonly DomainRecordPurpose[];

export interface DomainAuthTargets {
  /** `include:` of the platform's SPF domain; null: the nodes' IPs. */
  spfInclude: string | null;
  /** The return path's MX host; null: not checked. */
  intakeHost: string | null;
  /** Source IPs of the connected nodes (ip4:/ip6: advice when there is no spfInclude). */
  sourceIps: string[];
}

export function newVerifyToken(): string {
  return base64(crypto.getRandomValues(new Uint8Array(18))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function ownershipName(domain: string): string {
  return `${OWNERSHIP_LABEL}.${domain}`;
}

export function ownershipValue(token: string): string {
  return `${OWNERSHIP_PREFIX}${token}`;
}

/** The SPF mechanisms the platform needs in the return path's record (RFC 7208 §5). */
export function spfMechanisms(t: DomainAuthTargets): string[] {
  if (t.spfInclude) return [`include:${t.spfInclude}`];
  return [...new Set(t.sourceIps)].map((ip) => (ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`));
}

const SPF_RE = /^v=spf1(\s|$)/i;

/**
 * The existing SPF record with the platform's mechanisms added before its `all` (or `redirect=`)
 * term, or a new record when there is none; an existing record that has them stays as it is.
 */
export function mergeSpf(existing: string | null, mechanisms: string[]): string {
  if (!existing || !SPF_RE.test(existing.trim())) return `v=spf1 ${[...mechanisms, '~all'].join(' ')}`;
  const terms = existing.trim().split(/\s+/);
  const have = new Set(terms.map((t) => t.toLowerCase().replace(/^\+/, '')));
  const missing = mechanisms.filter((m) => !have.has(m.toLowerCase()));
  if (missing.length === 0) return terms.join(' ');
  const end = terms.findIndex((t, i) => i > 0 && (/^[+\-~?]?all$/i.test(t) || /^redirect=/i.test(t)));
  const at = end === -1 ? terms.length : end;
  return [...terms.slice(0, at), ...missing, ...terms.slice(at)].join(' ');
}

/** DKIM tag list (RFC 6376 §3.2): `tag=value; …`, whitespace folded. */
function dkimTags(txt: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of txt.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) tags.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).replace(/\s+/g, ''));
  }
  return tags;
}

function failed(l: Lookup<unknown>): RecordCheck | null {
  if (l.kind === 'error') return { status: 'error', error: l.code };
  if (l.kind === 'none') return { status: 'missing', found: null };
  return null;
}

export async function checkDomain(row: SendingDomainRecord, dns: DnsRecords, t: DomainAuthTargets): Promise<DomainChecks> {
  const [dkimL, ownL, spfL, dmarcL, mxL] = await Promise.all([
    dns.txt(`${row.dkimSelector}._domainkey.${row.domain}`),
    dns.txt(ownershipName(row.domain)),
    dns.txt(row.returnPathDomain),
    dns.txt(`_dmarc.${row.domain}`),
    t.intakeHost && row.returnPathDomain !== row.domain ? dns.mx(row.returnPathDomain) : Promise.resolve(null),
  ]);

  const dkim = failed(dkimL) ?? (() => {
    const values = (dkimL as { values: string[] }).values;
    const match = values.find((v) => dkimTags(v).get('p') === row.dkimPublicKey);
    if (match) return { status: 'ok' as const, found: match };
    return { status: 'mismatch' as const, found: values[0] ?? null };
  })();

  const ownership = failed(ownL) ?? (() => {
    const values = (ownL as { values: string[] }).values.map((v) => v.trim());
    const want = ownershipValue(row.verifyToken ?? '');
    if (row.verifyToken && values.includes(want)) return { status: 'ok' as const, found: want };
    const other = values.find((v) => v.startsWith(OWNERSHIP_PREFIX));
    return other ? { status: 'mismatch' as const, found: other } : { status: 'missing' as const, found: null };
  })();

  const mechanisms = spfMechanisms(t);
  const spfFromLookup = failed(spfL);
  const spf: RecordCheck = spfFromLookup ?? (() => {
    const records = (spfL as { values: string[] }).values.filter((v) => SPF_RE.test(v.trim()));
    if (records.length === 0) return { status: 'missing', found: null };
    // RFC 7208 §4.5: more than one SPF record is a permerror.
    if (records.length > 1) return { status: 'mismatch', found: records.join(' | '), error: 'several SPF records (RFC 7208 §4.5 permerror): merge them into one' };
    const terms = new Set(records[0].trim().split(/\s+/).map((x) => x.toLowerCase().replace(/^\+/, '')));
    if (mechanisms.length === 0) return { status: 'skipped', found: records[0] };
    return { status: mechanisms.every((m) => terms.has(m.toLowerCase())) ? 'ok' : 'mismatch', found: records[0] };
  })();

  const dmarc: RecordCheck = failed(dmarcL) ?? (() => {
    const record = (dmarcL as { values: string[] }).values.find((v) => /^v=DMARC1(\s|;|$)/i.test(v.trim()));
    return record ? { status: 'ok', found: record } : { status: 'missing', found: null };
  })();

  let returnPath: RecordCheck = { status: 'skipped' };
  if (mxL) {
    returnPath = failed(mxL) ?? (() => {
      const hosts = (mxL as { values: Array<{ exchange: string }> }).values.map((m) => m.exchange.toLowerCase().replace(/\.$/, ''));
      return { status: hosts.includes(t.intakeHost!.toLowerCase()) ? 'ok' : 'mismatch', found: hosts.join(', ') };
    })();
  }

  return { records: { dkim, ownership, spf, dmarc, return_path: returnPath }, error: null };
}

/** The status a check leads to, and why it stays put when it does not decide. */
export function nextStatus(current: string, checks: DomainChecks): { status: string; error: string | null } {
  const required = REQUIRED_RECORDS.map((p) => [p, checks.records[p]] as const);
  const errors = required.filter(([, r]) => r.status === 'error');
  if (errors.length) {
    return { status: current, error: `DNS lookup failed (${errors.map(([p, r]) => `${p}: ${r.error}`).join(', ')}); status kept as ${current}` };
  }
  if (required.every(([, r]) => r.status === 'ok')) return { status: 'verified', error: null };
  return { status: current === 'verified' ? 'failed' : current, error: null };
}

export type VerifyOutcome =
  | { kind: 'checked'; row: SendingDomainRecord }
  /** Another tenant holds the domain verified; the check was saved with that as its error. */
  | { kind: 'taken'; row: SendingDomainRecord };

export interface VerifyDeps {
  store: Pick<DomainStore, 'ensureVerifyToken' | 'saveDomainCheck' | 'verifiedOwner' | 'getDomain'>;
  dns: DnsRecords;
  targets: DomainAuthTargets;
  logger?: Logger;
  now: number;
}

export const TAKEN_ERROR = 'this domain is verified by another tenant; it cannot be verified here until that tenant no longer holds it';

/** Checks one domain's DNS now and saves what it found (with an event when the status moved). */
export async function verifyDomain(d: VerifyDeps, input: SendingDomainRecord, by: 'api' | 'schedule' | 'create'): Promise<VerifyOutcome> {
  let row = input;
  if (!row.verifyToken) row = { ...row, verifyToken: await d.store.ensureVerifyToken(row.id, newVerifyToken()) };
  const checks = await checkDomain(row, d.dns, d.targets);
  const next = nextStatus(row.status, checks);
  let status = next.status;
  checks.error = next.error;
  let taken = false;
  if (status === 'verified' && row.status !== 'verified') {
    const owner = await d.store.verifiedOwner(row.domain);
    if (owner && owner.tenantId !== row.tenantId) {
      taken = true;
      status = row.status;
      checks.error = TAKEN_ERROR;
    }
  }
  const save = async (to: string) => {
    const events =
      to === row.status
        ? []
        : [
            policyRecord(
              policyEvent('domain', {
                scope: 'domain_auth',
                key: row.id,
                from: row.status,
                to,
                reason: to === 'verified' ? 'DKIM key and ownership token found' : `required records no longer in DNS (${REQUIRED_RECORDS.filter((p) => checks.records[p].status !== 'ok').join(', ')})`,
                at: d.now,
                data: { tenant: row.tenantId, domain: row.domain, records: Object.fromEntries(Object.entries(checks.records).map(([k, v]) => [k, v.status])), by },
              }),
            ),
          ];
    const verifiedAt = to === 'verified' ? (row.status === 'verified' ? row.verifiedAt : d.now) : null;
    const result = await d.store.saveDomainCheck({ id: row.id, tenantId: row.tenantId, fromStatus: row.status, status: to, checks, checkedAt: d.now, verifiedAt, events });
    return { result, saved: { ...row, status: to, checks, checkedAt: d.now, verifiedAt } };
  };
  let { result, saved } = await save(status);
  if (result === 'taken') {
    // Another tenant verified it between our read and our write: the index refused ours.
    taken = true;
    checks.error = TAKEN_ERROR;
    ({ result, saved } = await save(row.status));
  }
  if (result === 'stale') {
    // A concurrent check moved the row first; it stands.
    const fresh = await d.store.getDomain(row.tenantId, row.id);
    return { kind: taken ? 'taken' : 'checked', row: fresh ?? saved };
  }
  if (saved.status !== input.status) d.logger?.info({ tenant: row.tenantId, domain: row.domain, from: input.status, to: saved.status, by }, 'sending domain status changed');
  return { kind: taken ? 'taken' : 'checked', row: saved };
}

/** What the records point at: the platform's settings and the connected nodes' IPs. */
export async function authTargets(deps: { config: { domainAuth?: { spfInclude: string | null; intakeHost: string | null } }; hub: { nodes(): Promise<Array<{ ips: Array<{ address: string }> }>> } }): Promise<DomainAuthTargets> {
  const cfg = deps.config.domainAuth;
  // With an SPF domain configured the nodes' IPs are not part of any record: no need to ask.
  const sourceIps = cfg?.spfInclude ? [] : (await deps.hub.nodes()).flatMap((n) => n.ips.map((i) => i.address));
  return { spfInclude: cfg?.spfInclude ?? null, intakeHost: cfg?.intakeHost ?? null, sourceIps };
}

/**
 * The schedule: every domain not checked for `intervalMs` is checked again, a batch at a time.
 * Returns how many were checked.
 */
export async function recheckDue(
  d: Omit<VerifyDeps, 'now' | 'targets'> & { store: VerifyDeps['store'] & Pick<DomainStore, 'domainsDue'> },
  targets: DomainAuthTargets,
  now: number,
  intervalMs: number,
  batch = 100,
): Promise<number> {
  const due = await d.store.domainsDue(now - intervalMs, batch);
  for (const row of due) {
    try {
      await verifyDomain({ ...d, targets, now }, row, 'schedule');
    } catch (err) {
      d.logger?.warn({ err, domain: row.domain }, 'scheduled DNS check failed');
    }
  }
  return due.length;
}
