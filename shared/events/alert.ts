/**
 * Alert events: what the alert evaluator (edge/services/alerts.ts) sends to the webhook streams
 * of the alert's tenant when an alert is raised or resolved. They are webhook event types like
 * the message events (an endpoint subscribes to them by name) but not part of any message's
 * trace: the delivery's `message_id` is the alert's id (`alert_<n>`), its `message_event_index`
 * 1 for the raise and 2 for the resolution, so a receiver sees them in that order.
 */
import { z } from 'zod';

const alertBody = z.object({
  id: z.string(),
  rule: z.string(),
  /** What it is about: `provider:<p>`, `pool:<p>`, `domain:<recipient domain>`, `breaker:<scope>:<key>`, `warmup:<id>`, `webhook:<endpoint id>`. */
  subject: z.string(),
  summary: z.string(),
  /** The numbers that tripped it (rate, baseline, threshold, volume, window…). */
  numbers: z.record(z.string(), z.unknown()),
  raised_at: z.string(),
});

export const ALERT_EVENT_SCHEMAS = {
  'alert.raised': alertBody,
  'alert.resolved': alertBody.extend({ resolved_at: z.string(), resolved_numbers: z.record(z.string(), z.unknown()) }),
} as const;

export type AlertEventType = keyof typeof ALERT_EVENT_SCHEMAS;
export const ALERT_EVENT_TYPES = Object.keys(ALERT_EVENT_SCHEMAS) as [AlertEventType, ...AlertEventType[]];
export type AlertEventData<T extends AlertEventType> = z.input<(typeof ALERT_EVENT_SCHEMAS)[T]>;
