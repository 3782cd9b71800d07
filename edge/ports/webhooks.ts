/**
 * Webhooks (events out): the store concern (endpoints, the fan-out outbox over message_events,
 * the per-endpoint delivery streams) and the records it speaks. The rows are these exactly
 * (edge/store/libsql/webhooks.ts checks it at compile time).
 */

export interface WebhookEndpointRecord {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  lanes: string[] | null;
  domains: string[] | null;
  enabled: boolean;
  secretEnc: string;
  previousSecretEnc: string | null;
  previousSecretExpiresAt: number | null;
  nextSequence: number;
  startEventId: number;
  consecutiveFailures: number;
  failingSince: number | null;
  disabledReason: string | null;
  disabledAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export type WebhookDeliveryState = 'pending' | 'delivered' | 'dead';

export interface WebhookDeliveryRecord {
  id: string;
  endpointId: string;
  tenantId: string;
  eventId: number;
  sequence: number;
  messageId: string;
  jobId: string | null;
  type: string;
  messageEventIndex: number;
  at: number;
  /** The event's data as JSON text. */
  data: string | null;
  state: string;
  attempts: number;
  nextAttemptAt: number;
  firstAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  finishedAt: number | null;
  createdAt: number;
}

export type WebhookEndpointPatch = Partial<Pick<WebhookEndpointRecord, 'url' | 'description' | 'eventTypes' | 'lanes' | 'domains' | 'enabled'>> & {
  /** Re-enabling clears the failure record. */
  resetFailures?: boolean;
};

/** A message event joined with what the endpoint filters look at. */
export interface OutboxEvent {
  id: number;
  messageId: string;
  jobId: string | null;
  type: string;
  at: number;
  data: string | null;
  tenantId: string;
  lane: string;
  fromDomain: string;
  /** The event's place in its message's trace, from 1. */
  messageEventIndex: number;
}

/** A delivery the fan-out decided on; its sequence is the endpoint's next, given by the store. */
export interface NewWebhookDelivery {
  id: string;
  endpointId: string;
  event: OutboxEvent;
}

/** The result of one attempt. */
export type DeliveryOutcome =
  | { ok: true; status: number; at: number }
  | { ok: false; status: number | null; error: string; at: number; nextAttemptAt: number | null };

export interface EndpointHealth {
  consecutiveFailures: number;
  failingSince: number | null;
}

export interface WebhookStore {
  createWebhookEndpoint(row: Omit<WebhookEndpointRecord, 'startEventId'>): Promise<WebhookEndpointRecord>;
  listWebhookEndpoints(tenantId: string): Promise<WebhookEndpointRecord[]>;
  getWebhookEndpoint(tenantId: string, id: string): Promise<WebhookEndpointRecord | null>;
  updateWebhookEndpoint(tenantId: string, id: string, patch: WebhookEndpointPatch, now: number): Promise<WebhookEndpointRecord | null>;
  deleteWebhookEndpoint(tenantId: string, id: string): Promise<boolean>;
  rotateWebhookSecret(tenantId: string, id: string, secretEnc: string, previousExpiresAt: number, now: number): Promise<WebhookEndpointRecord | null>;
  /** Enabled endpoints of every tenant (the sender's and fan-out's view). */
  activeWebhookEndpoints(): Promise<WebhookEndpointRecord[]>;

  /** The cursor and the events after it, oldest first. */
  readOutbox(limit: number): Promise<{ cursor: number; events: OutboxEvent[] }>;
  /**
   * One transaction: the deliveries (each endpoint's next sequences, in the order given) and
   * the cursor moved from `from` to `to`. Does nothing (false) if the cursor is no longer `from`.
   */
  fanOut(from: number, to: number, deliveries: NewWebhookDelivery[], now: number): Promise<boolean>;

  /** Pending deliveries due now that are first of their message in the stream, by sequence. */
  dueWebhookDeliveries(endpointId: string, now: number, limit: number): Promise<WebhookDeliveryRecord[]>;
  /** Records an attempt; returns the endpoint's failure run after it. */
  recordWebhookAttempt(delivery: WebhookDeliveryRecord, outcome: DeliveryOutcome): Promise<EndpointHealth>;
  /** Disables a failing endpoint; its pending deliveries become dead letters. */
  disableWebhookEndpoint(id: string, reason: string, now: number): Promise<void>;
  /** Dead letters of one endpoint, newest first. */
  listDeadLetters(tenantId: string, endpointId: string, limit: number, before?: number): Promise<WebhookDeliveryRecord[]>;
  /** Dead letters back to pending, one (by id) or all dead since a time; returns how many. */
  replayDeadLetters(tenantId: string, endpointId: string, which: { id: string } | { since: number }, now: number): Promise<number>;
  /** Deliveries of one endpoint (tests, diagnostics), by sequence. */
  webhookDeliveries(endpointId: string, limit: number): Promise<WebhookDeliveryRecord[]>;
}

/** What the webhook routes need beyond the store: the URL check and the rotation overlap. */
export interface WebhookConfig {
  /** Throws an Error saying why the URL may not be a destination (scheme, DNS, address). */
  checkUrl(url: string): Promise<void>;
  secretOverlapMs: number;
}
