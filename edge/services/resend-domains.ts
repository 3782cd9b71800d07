/**
 * Our sending domains in Resend's shape: status names, and the DNS records as Resend lists them
 * (`record` SPF/DKIM, `name` relative to the domain, `ttl`, per-record status). The records are
 * ours: DKIM as a TXT key, the return path's SPF and MX (grouped under SPF, as Resend does), and
 * two Resend has no kind for, `Ownership` (the tenant's token, required to verify) and `DMARC`.
 */
import type { SendingDomainRecord } from '../domain/records.ts';
import { dnsRecords } from './domains.ts';
import type { DomainAuthTargets } from './domain-check.ts';
import { ResendError } from './resend-errors.ts';
import type { z } from '@hono/zod-openapi';
import type { ResendCreateDomainSchema, ResendDomainSchema } from './resend-schemas.ts';

type ResendDomain = z.infer<typeof ResendDomainSchema>;
type RecordStatus = NonNullable<ResendDomain['records']>[number]['status'];

const RECORD_KIND: Record<string, string> = { dkim: 'DKIM', spf: 'SPF', return_path: 'SPF', ownership: 'Ownership', dmarc: 'DMARC' };

/** Our record check as Resend's record status. */
const RECORD_STATUS: Record<string, RecordStatus> = { ok: 'verified', missing: 'pending', mismatch: 'failed', error: 'temporary_failure', skipped: 'not_started', unchecked: 'not_started' };

/** pending before any check is Resend's not_started; verified and failed keep their names. */
function statusOf(row: SendingDomainRecord): ResendDomain['status'] {
  if (row.status === 'verified') return 'verified';
  if (row.status === 'failed') return 'failed';
  return row.checkedAt === null ? 'not_started' : 'pending';
}

function relativeName(name: string, domain: string): string {
  if (name === domain) return '@';
  return name.endsWith(`.${domain}`) ? name.slice(0, -domain.length - 1) : name;
}

export function resendDomain(row: SendingDomainRecord, withRecords: DomainAuthTargets | null): ResendDomain {
  const base = {
    id: row.id,
    name: row.domain,
    status: statusOf(row),
    created_at: new Date(row.createdAt).toISOString(),
    // Postlane sends from verified domains; it does not receive mail for them.
    capabilities: { sending: 'enabled' as const, receiving: 'disabled' as const },
  };
  if (!withRecords) return base;
  const records = dnsRecords(row, withRecords)
    .filter((r) => RECORD_KIND[r.purpose])
    .map((r) => {
      // An MX value is "<preference> <host>": Resend gives the preference as `priority`.
      const mx = r.type === 'MX' ? /^(\d+)\s+(\S+)$/.exec(r.value) : null;
      return {
        record: RECORD_KIND[r.purpose],
        name: relativeName(r.name, row.domain),
        type: r.type,
        value: mx ? mx[2] : r.value,
        ttl: 'Auto',
        status: RECORD_STATUS[r.status] ?? 'not_started',
        ...(mx ? { priority: Number(mx[1]) } : {}),
      };
    });
  return { object: 'domain', ...base, records };
}

/**
 * Resend's create options that Postlane has no behaviour for are refused by name rather than
 * ignored; those that describe what Postlane does anyway (opportunistic TLS, tracking off,
 * sending on) are taken.
 */
export function checkDomainOptions(body: z.infer<typeof ResendCreateDomainSchema>) {
  const refuse = (name: 'invalid_parameter' | 'invalid_region', message: string) => {
    throw new ResendError(name, message);
  };
  if (body.region !== undefined) refuse('invalid_region', '`region`: Postlane domains are not regional; the region mail leaves from follows the lane and `constraints.region` of each message. Leave it out.');
  if (body.tls === 'enforced') refuse('invalid_parameter', '`tls`: Postlane uses STARTTLS opportunistically and enforces it where the recipient domain publishes MTA-STS (RFC 8461); `enforced` per sending domain is not offered.');
  if (body.open_tracking || body.click_tracking || body.tracking_subdomain !== undefined) {
    refuse('invalid_parameter', '`open_tracking`, `click_tracking`, `tracking_subdomain`: tracking is set per lane in Postlane, not per domain. Leave them out.');
  }
  if (body.capabilities?.receiving === 'enabled') refuse('invalid_parameter', '`capabilities.receiving`: Postlane does not receive mail for sending domains.');
  if (body.capabilities?.sending === 'disabled') refuse('invalid_parameter', '`capabilities.sending`: a Postlane domain exists to send; leave it enabled.');
}

/** Resend's cursor pages over a list held newest first: `limit` (default 20), `after` / `before` an id. */
export function page<T extends { id: string }>(items: T[], q: { limit?: number; after?: string; before?: string }): { data: T[]; has_more: boolean } {
  if (q.after && q.before) throw new ResendError('validation_error', 'Give `after` or `before`, not both.');
  const limit = q.limit ?? 20;
  const cursor = q.after ?? q.before;
  const at = cursor ? items.findIndex((i) => i.id === cursor) : -1;
  if (cursor && at < 0) throw new ResendError('validation_error', `The cursor ${cursor} is not an id of this list.`);
  if (q.before) {
    const start = Math.max(0, at - limit);
    return { data: items.slice(start, at), has_more: start > 0 };
  }
  const start = q.after ? at + 1 : 0;
  return { data: items.slice(start, start + limit), has_more: start + limit < items.length };
}
