/**
 * Statistics and alerts: the store concerns behind /v1/stats, /v1/stats/health, /v1/export/*,
 * /v1/alerts and the delivery counters on /metrics. Rollups are written by the store with the
 * events themselves (MessageStore.appendEvents, SuppressionStore.recordFeedback); these read them.
 */

/** The dimensions a rollup row has and a query may filter or group by. */
export const ROLLUP_DIMENSIONS = ['tenantId', 'lane', 'pool', 'provider', 'domain', 'senderDomain'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];
export const COUNT_KEYS = ['outcome', 'replyClass', 'enhanced', 'code'] as const;
export type CountKey = (typeof COUNT_KEYS)[number];

export interface RollupFilter {
  /** Minutes in [from, to) (epoch ms). */
  from: number;
  to: number;
  tenantId?: string;
  lane?: string;
  pool?: string;
  provider?: string;
  /** Recipient domain. */
  domain?: string;
  senderDomain?: string;
}

/** A sum of counts grouped by the asked keys; `bucketStart` when a bucket width was asked. */
export interface CountGroup {
  bucketStart: number | null;
  keys: Partial<Record<RollupDimension | CountKey, string | number>>;
  count: number;
}

export interface LatencyGroup {
  bucketStart: number | null;
  keys: Partial<Record<RollupDimension, string>>;
  metric: string;
  bucket: number;
  count: number;
}

export interface ExportedEvent {
  id: number;
  messageId: string;
  jobId: string | null;
  tenantId: string;
  type: string;
  at: number;
  data: string | null;
}

export interface ExportedRollup {
  rowid: number;
  minute: number;
  tenantId: string;
  lane: string;
  pool: string;
  provider: string;
  domain: string;
  senderDomain: string;
  outcome: string;
  replyClass: string;
  enhanced: string;
  code: number;
  count: number;
}

export interface DeliveryTotal {
  provider: string;
  pool: string;
  outcome: string;
  replyClass: string;
  count: number;
}

export interface StatsStore {
  /** Counts in the filter's range, grouped by `by` (and by bucket, when `bucketMs` is given). */
  rollupCounts(filter: RollupFilter, by: ReadonlyArray<RollupDimension | CountKey>, bucketMs: number | null): Promise<CountGroup[]>;
  /** Latency histogram counts in the range, grouped by metric, histogram bucket, `by` and time bucket. */
  rollupLatencies(filter: RollupFilter, by: readonly RollupDimension[], bucketMs: number | null): Promise<LatencyGroup[]>;
  /** Message events with `at` in [from, to) and id after `afterId`, in id order (keyset paging). */
  exportEvents(tenantId: string | null, from: number, to: number, afterId: number, limit: number): Promise<ExportedEvent[]>;
  /** Rollup rows with minute in [from, to) after `afterRowid`, in rowid order. */
  exportRollups(tenantId: string | null, from: number, to: number, afterRowid: number, limit: number): Promise<ExportedRollup[]>;
  deliveryTotals(): Promise<DeliveryTotal[]>;
}

// --- Alerts ----------------------------------------------------------------------------------

export interface AlertRecord {
  id: number;
  rule: string;
  subject: string;
  tenantId: string | null;
  state: string;
  summary: string;
  numbers: Record<string, unknown>;
  resolvedNumbers: Record<string, unknown> | null;
  raisedAt: number;
  resolvedAt: number | null;
}

export type NewAlert = Omit<AlertRecord, 'id' | 'state' | 'resolvedNumbers' | 'resolvedAt'>;

export interface AlertQuery {
  state?: 'open' | 'resolved';
  /** Only this tenant's alerts; absent: every alert (the operator). */
  tenantId?: string;
  /** Cursor: alerts with a smaller id (newest first). */
  before?: number;
  limit: number;
}

/** A webhook endpoint that is failing or was disabled by the platform. */
export interface FailingEndpoint {
  id: string;
  tenantId: string;
  url: string;
  consecutiveFailures: number;
  failingSince: number | null;
  disabledReason: string | null;
}

/** How an alert event is handed to the tenant's webhook streams (in the alert's own transaction). */
export interface AlertWebhookEvent {
  type: string;
  /** The tenant whose endpoints subscribed to `type` get it. */
  tenantId: string;
  at: number;
  data: Record<string, unknown>;
}

export interface AlertStore {
  alertRuleSettings(): Promise<Array<{ id: string; settings: Record<string, unknown>; updatedAt: number }>>;
  putAlertRuleSettings(id: string, settings: Record<string, unknown>, now: number): Promise<void>;
  openAlerts(): Promise<AlertRecord[]>;
  listAlerts(query: AlertQuery): Promise<AlertRecord[]>;
  /** Opens the alert and queues its webhook event; null when one is already open for (rule, subject). */
  raiseAlert(alert: NewAlert, event: Omit<AlertWebhookEvent, 'data'>, data: (alert: AlertRecord) => Record<string, unknown>): Promise<AlertRecord | null>;
  /** Resolves an open alert and queues its webhook event; null when it was no longer open. */
  resolveAlert(id: number, numbers: Record<string, unknown>, now: number, event: Omit<AlertWebhookEvent, 'data'>, data: (alert: AlertRecord) => Record<string, unknown>): Promise<AlertRecord | null>;
  failingWebhookEndpoints(minFailures: number): Promise<FailingEndpoint[]>;
}
