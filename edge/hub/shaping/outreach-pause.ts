/**
 * The outreach pause (SPEC §4 guard-rails): a breaker per tenant and per (tenant, sender domain)
 * whose only threshold is the policy's `outreach.pauseOnComplaintRate` above `pauseMinVolume`
 * sends. Crossing it opens the breaker (new sends refused at the API, queued ones held here)
 * until the cool-down, then slow start watches for a relapse.
 *
 * `OutreachRules` is the breaker scheme (thresholds and wording of the `outreach:` keys) the
 * shaper's BreakerBook is built with; `OutreachPause` counts sends and complaints into those
 * breakers and holds queued outreach jobs while one is open.
 */
import type { BreakerConfig } from '../../../shared/policy/breaker.ts';
import { DEFAULT_OUTREACH_GUARD } from '../../../shared/policy/constraints.ts';
import type { OutreachPauseRule } from '../../ports/lease-hub.ts';
import type { ClaimedJob } from '../../ports/store.ts';
import type { BreakerBook, BreakerScheme } from './breakers.ts';
import type { PolicyEvent, Refusal } from './policy-event.ts';

const PREFIX = 'outreach:';

/** The breaker behind the outreach pause: the shaper's clock (window, cool-down), the policy's thresholds. */
export function outreachBreakerConfig(base: BreakerConfig, rule: OutreachPauseRule): BreakerConfig {
  // Only complaints pause outreach here; bounces and blocks have the pool and domain breakers.
  const t = { complaintRate: rule.pauseOnComplaintRate, bounceRate: 1, blocks: Number.MAX_SAFE_INTEGER };
  return { ...base, minVolume: rule.pauseMinVolume, slowStartOn: t, openOn: t };
}

/** An outreach pause's event says so in words, with the policy that tripped it and when it lifts. */
function outreachEvent(event: PolicyEvent, cfg: BreakerConfig): PolicyEvent {
  const rule = { pause_on_complaint_rate: cfg.openOn.complaintRate, pause_min_volume: cfg.minVolume };
  const metrics = event.data.metrics as { sent: number; complained: number };
  if (event.to === 'open') {
    const until = event.at + cfg.coolDownMs;
    return {
      ...event,
      scope: 'outreach',
      reason: `outreach paused: ${event.reason} over ${metrics.sent} sends (policy outreach.pauseOnComplaintRate ${cfg.openOn.complaintRate}, pauseMinVolume ${cfg.minVolume}); resumes under watch at ${new Date(until).toISOString()}`,
      data: { ...event.data, open_until: until, rule },
    };
  }
  return { ...event, scope: 'outreach', reason: event.from === 'open' ? `outreach pause lifted (${event.reason}); a relapse pauses again` : event.reason, data: { ...event.data, rule } };
}

/** Thresholds per breaker key: the base for pools and domains, the tenant's policy for outreach. */
export class OutreachRules implements BreakerScheme {
  /** Pause rules last seen per breaker key (from the tenant's policy, with each complaint). */
  private readonly rules = new Map<string, OutreachPauseRule>();

  constructor(private readonly base: BreakerConfig) {}

  remember(key: string, rule: OutreachPauseRule) {
    this.rules.set(key, rule);
  }

  configFor(key: string): BreakerConfig {
    if (!key.startsWith(PREFIX)) return this.base;
    return outreachBreakerConfig(this.base, this.rules.get(key) ?? DEFAULT_OUTREACH_GUARD);
  }

  present(key: string, event: PolicyEvent): PolicyEvent {
    return key.startsWith(PREFIX) ? outreachEvent(event, this.configFor(key)) : event;
  }
}

export class OutreachPause {
  constructor(
    private readonly breakers: BreakerBook,
    private readonly rules: OutreachRules,
  ) {}

  private keys(job: { senderDomain: string; tenantId?: string }) {
    return { tenant: `${PREFIX}${job.tenantId}`, domain: `${PREFIX}${job.tenantId}|${job.senderDomain}` };
  }

  /** Counts an outreach job's send or complaint into both its pauses; other lanes are not counted. */
  record(
    job: { senderDomain: string; lane?: string; tenantId?: string },
    counts: { sent?: number; complained?: number },
    now: number,
    rules?: { tenant: OutreachPauseRule; domain: OutreachPauseRule },
  ): PolicyEvent[] {
    if (job.lane !== 'outreach' || !job.tenantId) return [];
    const keys = this.keys(job);
    const events: PolicyEvent[] = [];
    for (const which of ['tenant', 'domain'] as const) {
      const key = keys[which];
      if (rules) this.rules.remember(key, rules[which]);
      events.push(...this.breakers.record(key, counts, now));
    }
    return events;
  }

  /** An outreach job whose tenant or sender domain is paused goes back to the queue until the pause ends. */
  hold(job: ClaimedJob, now: number): Refusal | null {
    if (job.lane !== 'outreach') return null;
    for (const key of Object.values(this.keys(job))) {
      const b = this.breakers.peek(key);
      if (b?.state !== 'open') continue;
      const until = b.openUntil ?? now + 60_000;
      return { job, retryAt: until, limit: `outreach_pause:${key.slice(PREFIX.length)}`, reason: `outreach ${key.includes('|') ? `from ${job.senderDomain}` : 'of this tenant'} is paused: complaint rate over the policy's outreach.pauseOnComplaintRate; held until ${new Date(until).toISOString()}` };
    }
    return null;
  }
}
