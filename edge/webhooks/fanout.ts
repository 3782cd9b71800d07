/**
 * The fan-out: message_events is the outbox. Each run reads the events after the cursor (kept in
 * the database), matches them against the enabled endpoints, and in one transaction writes one
 * delivery per (endpoint, event), each with the endpoint stream's next sequence, and moves the
 * cursor past them (WebhookStore.fanOut). A crash before the commit leaves the cursor where it
 * was, so the same events are fanned out again; after it, nothing is read twice. No accept or
 * hub path changes: they write their events as before.
 */
import { newId } from '../../shared/ids.ts';
import type { Logger } from '../logger.ts';
import type { NewWebhookDelivery, OutboxEvent, WebhookEndpointRecord, WebhookStore } from '../ports/webhooks.ts';
import { logTrace } from './trace-log.ts';

export const FANOUT_BATCH = 500;

/** Whether an endpoint takes an event: its tenant, a chosen type, its filters, and not older than the endpoint. */
export function endpointTakes(e: WebhookEndpointRecord, ev: OutboxEvent): boolean {
  return (
    e.enabled &&
    e.tenantId === ev.tenantId &&
    ev.id > e.startEventId &&
    e.eventTypes.includes(ev.type) &&
    (e.lanes === null || e.lanes.includes(ev.lane)) &&
    (e.domains === null || e.domains.includes(ev.fromDomain))
  );
}

export class WebhookFanout {
  constructor(
    private readonly store: WebhookStore,
    private readonly logger: Logger,
    /** Where the trace log's lines go (edge/webhooks/trace-log.ts): one per committed event. */
    private readonly traceLogger: Logger,
    private readonly batch = FANOUT_BATCH,
  ) {}

  /** One batch; returns how many deliveries it wrote, or -1 when there was nothing after the cursor. */
  async runOnce(now: number): Promise<number> {
    const { cursor, events } = await this.store.readOutbox(this.batch);
    if (events.length === 0) return -1;
    const endpoints = await this.store.activeWebhookEndpoints();
    const byTenant = new Map<string, WebhookEndpointRecord[]>();
    for (const e of endpoints) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
    const deliveries: NewWebhookDelivery[] = [];
    for (const ev of events) {
      for (const e of byTenant.get(ev.tenantId) ?? []) {
        if (endpointTakes(e, ev)) deliveries.push({ id: newId('whd', now), endpointId: e.id, event: ev });
      }
    }
    const to = events.at(-1)!.id;
    if (!(await this.store.fanOut(cursor, to, deliveries, now))) {
      this.logger.debug({ cursor }, 'webhook fan-out: the cursor moved meanwhile (another edge); read again');
      return 0;
    }
    logTrace(this.traceLogger, events);
    return deliveries.length;
  }

  /** Batches until the outbox is drained (bounded, so one call cannot run forever). */
  async drain(now: number, maxBatches = 20): Promise<number> {
    let written = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.runOnce(now);
      if (n < 0) break;
      written += n;
    }
    return written;
  }
}
