/**
 * The vocabulary shaping speaks to the hub: a `PolicyEvent` is a change of shaping state (a
 * breaker moved, a rate was cut, an IP suspended, a warm-up day decided) that the hub stores and
 * replays after a restart; a `Refusal` is a job held back with the limit that held it. A leaf
 * module, so the Shaper's parts and the warm-up gate share it without importing each other.
 */
import type { ClaimedJob } from '../../ports/store.ts';
import type { BreakerEvent } from '../../../shared/policy/breaker.ts';
import { policyEvent, type PolicyEventDraft } from '../../../shared/events/index.ts';

/** A policy event of the catalog (shared/events/policy.ts), as shaping speaks it. */
export type PolicyEvent = PolicyEventDraft;

export interface Refusal {
  job: ClaimedJob;
  retryAt: number;
  limit: string;
  reason: string;
}

/** `pool:transactional` → ['pool', 'transactional']; only the first colon splits. */
export function splitScopedKey(key: string): [string, string] {
  const [scope, name] = key.split(/:(.*)/s);
  return [scope, name];
}

/**
 * A sender domain's breaker key, `domain:<tenant>|<domain>`: per sending-domain record, since
 * two tenants may register the same name and neither may move (or see) the other's breaker.
 */
export function domainBreakerKey(tenantId: string, domain: string): string {
  return `domain:${tenantId}|${domain}`;
}

/** A domain-scope key (`<tenant>|<domain>`) in parts; null for one that names no tenant (stored before breakers were per tenant). */
export function splitDomainKey(key: string): { tenantId: string; domain: string } | null {
  const at = key.indexOf('|');
  if (at <= 0 || at === key.length - 1) return null;
  return { tenantId: key.slice(0, at), domain: key.slice(at + 1) };
}

/**
 * A breaker transition as stored. The scope is the breaker key's prefix; outreach breakers are
 * reworded by the outreach pause (./outreach-pause.ts) before they leave.
 */
export function breakerPolicyEvent(key: string, e: BreakerEvent): PolicyEvent {
  const [scope, name] = splitScopedKey(key);
  return policyEvent('breaker', { scope: scope as 'pool' | 'domain', key: name, from: e.from, to: e.to, reason: e.reason, at: e.at, data: { metrics: e.metrics, rate_per_min: e.ratePerSec * 60 } });
}
