/**
 * The vocabulary of reply classification, shared by the provider records (providers.ts, whose
 * schema checks them) and the classifier (classifier.ts, which re-exports them). Kept apart so
 * neither module has to import the other's values at load.
 */

export const REPLY_CLASSES = [
  'rate_limited',
  'ip_reputation',
  'domain_reputation',
  'auth_failure',
  'unknown_user',
  'mailbox_full',
  'mailbox_disabled',
  'policy',
  'content',
  'network',
  'blocklisted',
  'other_transient',
  'other_permanent',
] as const;
export type ReplyClass = (typeof REPLY_CLASSES)[number];

export type Outcome = 'deferred' | 'bounced';

export const POOL_ACTIONS = ['none', 'throttle', 'slow_start', 'suspend_ip_for_provider', 'pause_domain'] as const;
export type PoolAction = (typeof POOL_ACTIONS)[number];

/** What the breakers count: see breaker.ts. */
export const BREAKER_SIGNALS = ['block', 'bounce', 'throttle', 'none'] as const;
export type BreakerSignal = (typeof BREAKER_SIGNALS)[number];
