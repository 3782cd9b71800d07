/**
 * Webhook endpoints as the API shows them, and the checks a create or update runs: the URL
 * (edge/webhooks/ssrf.ts through the WebhookConfig port) and the secret (sealed with the master
 * key; shown once).
 */
import type { z } from '@hono/zod-openapi';
import type { DeadLetterSchema, WebhookSchema } from '../../shared/webhooks.ts';
import { invalid } from '../../shared/errors.ts';
import type { AppDeps } from '../ports/app.ts';
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from '../ports/webhooks.ts';
import { checkTarget } from '../webhooks/ssrf.ts';

export const DEFAULT_SECRET_OVERLAP_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

export function webhookView(e: WebhookEndpointRecord, now: number): z.infer<typeof WebhookSchema> {
  const overlap = e.previousSecretEnc && e.previousSecretExpiresAt && e.previousSecretExpiresAt > now ? e.previousSecretExpiresAt : null;
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    event_types: e.eventTypes,
    lanes: e.lanes,
    domains: e.domains,
    enabled: e.enabled,
    status: e.enabled ? 'enabled' : e.disabledReason ? 'disabled_by_platform' : 'disabled',
    disabled: e.disabledReason && e.disabledAt ? { reason: e.disabledReason, at: iso(e.disabledAt) } : null,
    last_sequence: e.nextSequence - 1,
    failing: e.consecutiveFailures > 0 && e.failingSince ? { consecutive_failures: e.consecutiveFailures, since: iso(e.failingSince) } : null,
    previous_secret_expires_at: overlap ? iso(overlap) : null,
    created_at: iso(e.createdAt),
    updated_at: iso(e.updatedAt),
  };
}

export function deadLetterView(d: WebhookDeliveryRecord): z.infer<typeof DeadLetterSchema> {
  return {
    id: d.id,
    sequence: d.sequence,
    type: d.type,
    message_id: d.messageId,
    job_id: d.jobId,
    message_event_index: d.messageEventIndex,
    at: iso(d.at),
    attempts: d.attempts,
    last_status: d.lastStatus,
    last_error: d.lastError,
    dead_at: d.finishedAt === null ? null : iso(d.finishedAt),
  };
}

/** Refuses a URL the sender would refuse: a 400 naming `url`. */
export async function checkWebhookUrl(deps: AppDeps, url: string): Promise<void> {
  try {
    if (deps.webhooks) await deps.webhooks.checkUrl(url);
    else await checkTarget(url, async () => { throw new Error('names cannot be resolved on this runtime; give an IP address'); }, []);
  } catch (error) {
    throw invalid('url', (error as Error).message);
  }
}
