/**
 * Rows for the Store contract. Every case makes its own tenant and pool, so the cases share one
 * database without seeing each other's messages, leases or suppressions.
 */
import type { NewMessage, Store } from '../../edge/ports/store.ts';
import type { WarmupRecord } from '../../edge/domain/records.ts';
import { newId, newSecret, sha256Hex } from '../../shared/ids.ts';

export const unique = (label: string) => `${label}-${newId('t').slice(2).toLowerCase()}`;

/** A new tenant with one API key; returns the tenant id and the key's hash. */
export async function newTenant(store: Store, scopes = ['send', 'read']): Promise<{ tenantId: string; keyId: string; keyHash: string }> {
  const tenantId = unique('tenant');
  const keyId = newId('key');
  const keyHash = await sha256Hex(newSecret('pl'));
  await store.createTenant({ id: tenantId, name: tenantId, now: Date.now() }, { id: keyId, keyHash, prefix: 'pl_test', scopes });
  return { tenantId, keyId, keyHash };
}

export interface MessageSpec {
  tenantId: string;
  recipients: string[];
  pool: string;
  lane?: string;
  region?: string | null;
  now?: number;
}

/** One message to these recipients, one queued job each, due at `now`. */
export function newMessage(spec: MessageSpec): NewMessage {
  const now = spec.now ?? Date.now();
  const lane = spec.lane ?? 'transactional';
  const id = newId('msg', now);
  return {
    message: {
      id,
      tenantId: spec.tenantId,
      fromAddress: 'sender@shop.test',
      fromDomain: 'shop.test',
      subject: 'contract',
      lane,
      pool: spec.pool,
      raw: 'Subject: contract\r\n\r\nhi\r\n',
      sizeBytes: 25,
      messageIdHeader: `<${id}@shop.test>`,
      tags: { case: 'contract' },
      constraints: null,
      sendAt: null,
      createdAt: now,
    },
    jobs: spec.recipients.map((recipient) => ({
      id: newId('job', now),
      messageId: id,
      tenantId: spec.tenantId,
      recipient,
      recipientKind: 'to',
      domain: recipient.split('@')[1],
      senderDomain: 'shop.test',
      provider: 'other',
      pool: spec.pool,
      lane,
      region: spec.region ?? null,
      dedupKey: `${id}:${recipient}`,
      state: 'queued',
      attempts: 0,
      nextAttemptAt: now,
      leaseId: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      lastReply: null,
      lastClass: null,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    })),
    events: [{ messageId: id, jobId: null, type: 'accepted', at: now, data: { recipients: spec.recipients.length } }],
  };
}

export function newWarmup(target: { scope: 'pool' | 'ip'; key: string; pool: string }, now = Date.now()): WarmupRecord {
  return {
    id: newId('wu', now),
    scope: target.scope,
    key: target.key,
    pool: target.pool,
    lane: null,
    overrides: {},
    plan: { days: 30 },
    status: 'active',
    startedAt: now,
    dayStart: now,
    providers: {},
    endedAt: null,
    createdBy: 'contract',
    updatedAt: now,
  };
}
