/**
 * Stores what shaping changed (breakers, rates, suspensions, warm-up days) as policy events, so
 * other edge instances and a restarted hub see it, and acts on the one change that frees queued
 * work: a pool or sender-domain breaker closing.
 */
import type { Logger } from '../logger.ts';
import type { Store } from '../ports/store.ts';
import { splitDomainKey, type PolicyEvent } from './shaping/policy-event.ts';
import { policyRecord } from '../../shared/events/index.ts';

export class PolicyEventRecorder {
  constructor(
    private readonly store: Pick<Store, 'appendPolicyEvents' | 'releaseHeld'>,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** Offers released jobs to the nodes. */
    private readonly notifyWork: () => void,
  ) {}

  async record(events: PolicyEvent[]) {
    if (events.length === 0) return;
    for (const e of events) this.logger.info({ scope: e.scope, key: e.key, from: e.from, to: e.to, reason: e.reason }, `policy ${e.type} change`);
    await this.store.appendPolicyEvents(events.map(policyRecord));
    // Jobs held while a breaker slowed their pool or domain were spaced at that slow pace; once it
    // closes they are due now, not minutes from now behind mail queued after them.
    const closed = events.filter((e) => e.type === 'breaker' && e.to === 'closed' && (e.scope === 'pool' || e.scope === 'domain'));
    for (const e of closed) {
      // A sender domain's breaker is its tenant's (`<tenant>|<domain>`): only that tenant's jobs are freed.
      const owner = e.scope === 'domain' ? splitDomainKey(e.key) : null;
      if (e.scope === 'domain' && !owner) continue;
      const released = await this.store.releaseHeld(owner ? { lastClass: 'shaped', senderDomain: owner.domain, tenantId: owner.tenantId } : { lastClass: 'shaped', pool: e.key }, this.now());
      if (released > 0) this.logger.info({ scope: e.scope, key: e.key, released }, 'breaker closed: held jobs released');
    }
    if (closed.length) this.notifyWork();
  }
}
