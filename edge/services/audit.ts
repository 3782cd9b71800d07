/**
 * The audit log (SPEC §7): every configuration change, through any path (API routes, config
 * apply and rollback), as who (key id and name), when, what, before and after. Secrets never
 * reach it: `maskSecrets` replaces webhook secrets, API keys, node tokens, DKIM private keys and
 * their hashes or sealed forms before anything is stored. Append-only: no route deletes it.
 */
import type { AuditStore, NewAuditEntry } from '../ports/store.ts';
import type { Caller } from '../context.ts';

export interface AuditActor {
  keyId: string;
  keyName?: string | null;
  tenantId?: string | null;
}

export interface AuditEntry {
  actor: AuditActor;
  action: string;
  target: { kind: string; id: string };
  before: unknown;
  after: unknown;
  reason?: string;
  /** The tenant whose configuration changed; default the actor's. The platform's (pools, IPs, node tokens) are the operator tenant's. */
  tenantId?: string | null;
}

export interface AuditDeps {
  store: Pick<AuditStore, 'appendAudit'>;
  now?: () => number;
}

export const MASK = '[redacted]';

/** Field names that hold a secret or what derives from one (hash, sealed copy). */
const SECRET_FIELD = /(secret|password|private_?key|api_?key$|^token$|_token$|key_?hash|token_?hash|Enc$|_enc$)/i;
/** Values that are a secret whatever their field: webhook secrets, PEM keys, whole API keys and node tokens. */
const SECRET_VALUE = /^(whsec_|-----BEGIN [A-Z ]*PRIVATE KEY|pl_[A-Za-z0-9_-]{40,}$|plnode_[A-Za-z0-9_-]{40,}$)/;

/** A deep copy with every secret replaced by MASK. */
export function maskSecrets(value: unknown): unknown {
  if (typeof value === 'string') return SECRET_VALUE.test(value) ? MASK : value;
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) && !/expires/i.test(k) && v !== null && v !== undefined ? MASK : maskSecrets(v);
    return out;
  }
  return value ?? null;
}

/** The actor of an API request: its key, the key's name and tenant. */
export function actorOf(caller: Caller): AuditActor {
  return { keyId: caller.keyId, keyName: caller.name ?? null, tenantId: caller.tenantId };
}

/** The stored row of an entry, masked; for callers that write it in their own transaction. */
export function auditRow(entry: AuditEntry, at: number): NewAuditEntry {
  return {
    at,
    actorKeyId: entry.actor.keyId,
    actorKeyName: entry.actor.keyName ?? null,
    actorTenantId: entry.actor.tenantId ?? null,
    tenantId: entry.tenantId !== undefined ? entry.tenantId : (entry.actor.tenantId ?? null),
    action: entry.action,
    targetKind: entry.target.kind,
    targetId: entry.target.id,
    before: maskSecrets(entry.before),
    after: maskSecrets(entry.after),
    reason: entry.reason ?? null,
  };
}

export async function recordAudit(deps: AuditDeps, entry: AuditEntry): Promise<void> {
  await deps.store.appendAudit([auditRow(entry, deps.now?.() ?? Date.now())]);
}
