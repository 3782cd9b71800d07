/**
 * Adding, checking and removing a tenant's sending domains: what `/v1/domains` and the
 * Resend-compatible `/domains` both do, each rendering the record in its own shape.
 */
import type { AppDeps } from '../ports/app.ts';
import type { SendingDomainRecord } from '../domain/records.ts';
import { asciiDomain } from '../../shared/address.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { generateDkimKey, selectorFor } from './domains.ts';
import { authTargets, newVerifyToken, TAKEN_ERROR, verifyDomain, type DomainAuthTargets } from './domain-check.ts';
import { recordAudit, type AuditActor } from './audit.ts';
import { forgetSendingDomain } from './send.ts';

export interface NewSendingDomain {
  domain: string;
  dkimAlgorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** Absent: bounces.<domain>. */
  returnPathDomain?: string;
}

export interface DomainOutcome {
  row: SendingDomainRecord;
  targets: DomainAuthTargets;
  created: boolean;
}

export function domainNotFound(id: string) {
  return new ApiError('not_found', `no sending domain ${id}`, { field: 'id', reason: 'unknown id' });
}

function checker(deps: AppDeps, targets: DomainAuthTargets) {
  if (!deps.dnsRecords) return null;
  return { store: deps.store, dns: deps.dnsRecords, targets, logger: deps.logger, now: deps.now?.() ?? Date.now() };
}

/** What the audit log keeps of a domain: its settings and public key (never the private key). */
export function auditedDomain(row: SendingDomainRecord) {
  return { id: row.id, domain: row.domain, dkim_selector: row.dkimSelector, dkim_algorithm: row.dkimAlgorithm, return_path_domain: row.returnPathDomain, status: row.status };
}

/** Adds the domain (an existing one is returned as it is): a DKIM key, an ownership token and a first DNS check. */
export async function createSendingDomain(deps: AppDeps, tenantId: string, input: NewSendingDomain, fields = { domain: 'domain', returnPath: 'return_path_domain' }, actor?: AuditActor): Promise<DomainOutcome> {
  const domain = asciiDomain(input.domain);
  if (!domain) throw invalid(fields.domain, 'not a valid host name');
  // The return path defaults to bounces.<domain>: its MX points at the platform's intake, and
  // SPF there aligns with the From domain under relaxed DMARC (RFC 7489 §3.1.2).
  const returnPath = input.returnPathDomain ? asciiDomain(input.returnPathDomain) : `bounces.${domain}`;
  if (!returnPath || (returnPath !== domain && !returnPath.endsWith(`.${domain}`))) {
    throw invalid(fields.returnPath, `must be ${domain} or a subdomain of it, so SPF aligns for DMARC (RFC 7489 §3.1.2)`);
  }
  const targets = await authTargets(deps);
  const existing = await deps.store.findDomain(tenantId, domain);
  if (existing) return { row: existing, targets, created: false };
  const now = deps.now?.() ?? Date.now();
  const key = await generateDkimKey(input.dkimAlgorithm);
  const row: SendingDomainRecord = {
    id: newId('dom', now),
    tenantId,
    domain,
    dkimSelector: selectorFor(new Date(now)),
    dkimAlgorithm: input.dkimAlgorithm,
    dkimPrivateKeyEnc: await deps.secrets.seal(key.privateKeyPem),
    dkimPublicKey: key.publicKey,
    returnPathDomain: returnPath,
    status: 'pending',
    createdAt: now,
    verifyToken: newVerifyToken(),
    checks: null,
    checkedAt: null,
    verifiedAt: null,
  };
  const created = (await deps.store.createDomain(row)) === 'created';
  let stored = created ? row : (await deps.store.findDomain(tenantId, domain))!;
  deps.logger.info({ tenant: tenantId, domain, selector: stored.dkimSelector }, 'sending domain added');
  if (created && actor) await recordAudit(deps, { actor, tenantId, action: 'domain.create', target: { kind: 'domain', id: domain }, before: null, after: auditedDomain(row) });
  // A first look at DNS, so the SPF advice merges into what the domain already publishes.
  const check = created ? checker(deps, targets) : null;
  if (check) {
    try {
      stored = (await verifyDomain(check, stored, 'create')).row;
    } catch (err) {
      deps.logger.warn({ err, domain }, 'first DNS check of a new domain failed');
    }
  }
  return { row: stored, targets, created };
}

/** Checks the domain's DNS now; 409 when another tenant holds it verified or DNS lookups are off. */
export async function checkSendingDomain(deps: AppDeps, tenantId: string, id: string): Promise<DomainOutcome> {
  const row = await deps.store.getDomain(tenantId, id);
  if (!row) throw domainNotFound(id);
  const targets = await authTargets(deps);
  const check = checker(deps, targets);
  if (!check) throw new ApiError('conflict', 'DNS lookups are turned off on this deployment (POSTLANE_DOH_URL=off), so domains cannot be verified here', { field: 'id', reason: 'no DNS resolver' });
  const outcome = await verifyDomain(check, row, 'api');
  if (outcome.kind === 'taken') {
    throw new ApiError('conflict', `${row.domain}: ${TAKEN_ERROR}`, { field: 'domain', reason: 'verified by another tenant', owner: 'another tenant' });
  }
  return { row: outcome.row, targets, created: false };
}

/**
 * Removes the record and its DKIM key: mail from the domain is refused at accept from then on.
 * Refused (409) while mail from it still waits to be sent, which would otherwise leave unsigned.
 */
export async function deleteSendingDomain(deps: AppDeps, tenantId: string, id: string, actor?: AuditActor): Promise<void> {
  const before = await deps.store.getDomain(tenantId, id);
  const outcome = await deps.store.deleteDomain(tenantId, id);
  if (outcome === 'not_found') throw domainNotFound(id);
  if (outcome === 'in_use') {
    throw new ApiError('conflict', `mail from domain ${id} is still waiting to be sent; cancel it (POST /v1/messages/{id}/cancel) or let it go out, then delete the domain`, { field: 'id', reason: 'mail queued' });
  }
  if (before) forgetSendingDomain(deps, tenantId, before.domain);
  if (actor && before) await recordAudit(deps, { actor, tenantId, action: 'domain.delete', target: { kind: 'domain', id: before.domain }, before: auditedDomain(before), after: null });
  deps.logger.info({ tenant: tenantId, domain: id }, 'sending domain removed');
}
