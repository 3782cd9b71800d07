/**
 * Rogue-batch holds (SPEC §7): their API view, and the operator's decision — approve (the held
 * jobs are queued and the hub is woken) or reject (never sent) — written to the audit log.
 */
import type { z } from '@hono/zod-openapi';
import type { AppDeps } from '../ports/app.ts';
import type { HoldRecord } from '../ports/operator.ts';
import type { Caller } from '../context.ts';
import type { HoldSchema } from '../../shared/api-operator.ts';
import { ApiError } from '../../shared/errors.ts';
import { actorOf, recordAudit } from './audit.ts';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function holdView(h: HoldRecord, heldJobs: number | null): z.infer<typeof HoldSchema> {
  return {
    id: h.id,
    scope: h.scope,
    key: h.key,
    status: h.status,
    reason: h.reason,
    volume: h.volume,
    threshold: h.threshold,
    trailing_p95_per_hour: h.trailingP95,
    held_jobs: heldJobs,
    created_at: new Date(h.createdAt).toISOString(),
    decided_at: iso(h.decidedAt),
    decided_by: h.decidedBy,
    decision_reason: h.decisionReason,
  };
}

export async function decideHold(deps: AppDeps, caller: Caller, id: string, status: 'approved' | 'rejected', reason: string | null) {
  const now = deps.now?.() ?? Date.now();
  const before = await deps.store.getHold(caller.tenantId, id);
  if (!before) throw new ApiError('not_found', `no hold ${id}`);
  const decided = await deps.store.decideHold({ tenantId: caller.tenantId, id, status, by: caller.keyId, reason, now });
  if (!decided) throw new ApiError('conflict', `hold ${id} is already ${(await deps.store.getHold(caller.tenantId, id))?.status ?? before.status}`, { field: 'id', reason: 'decided already' });
  await recordAudit(deps, {
    actor: actorOf(caller),
    action: status === 'approved' ? 'hold.approve' : 'hold.reject',
    target: { kind: 'hold', id },
    before: { status: before.status },
    after: { status, jobs: decided.jobs },
    ...(reason ? { reason } : {}),
  });
  deps.logger.info({ tenant: caller.tenantId, key: caller.keyId, hold: id, status, jobs: decided.jobs }, `hold ${status}`);
  if (status === 'approved') for (const region of new Set(decided.regions)) deps.hub.notifyWork(region);
  return { ...holdView(decided.hold, null), jobs: decided.jobs };
}
