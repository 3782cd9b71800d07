/**
 * The WebhookSender: runs the fan-out and delivers each endpoint's stream. At least once; the
 * events of one message in order (the store hands out only the first pending delivery of each
 * message), different messages in parallel up to the endpoint's concurrency. A failure is
 * retried with exponential backoff and full jitter (a `Retry-After` is a floor) until the retry
 * window closes, then the delivery is a dead letter. An endpoint failing continuously for
 * `disableAfter` attempts, or for the whole window, is disabled with its reason recorded.
 *
 * Runtime-agnostic: DNS and HTTP come in as `resolve` and `transport` (Node:
 * edge/adapters/webhook-http.ts; Workers: edge/webhooks/fetch-transport.ts). On Node it runs on
 * its own timer (`start`); on Workers a Durable Object's alarm runs one bounded `pass` at a time
 * (edge/durable/webhook-sender.ts), since nothing runs between a Worker's events.
 */
import type { WebhookPayload } from '../../shared/webhooks.ts';
import type { Logger } from '../logger.ts';
import type { Secrets } from '../ports/secrets.ts';
import type { DeliveryOutcome, WebhookDeliveryRecord, WebhookEndpointRecord, WebhookStore } from '../ports/webhooks.ts';
import { WebhookFanout } from './fanout.ts';
import { signDelivery } from './signing.ts';
import { checkTarget, type CheckedTarget, type Cidr, type Resolve } from './ssrf.ts';

export interface TransportResult {
  status: number;
  /** From `Retry-After`, in ms. */
  retryAfterMs: number | null;
}

/** POSTs to the checked address (never another), no redirects, bounded body and time; throws on network errors. */
export type WebhookTransport = (target: CheckedTarget, headers: Record<string, string>, body: string) => Promise<TransportResult>;

export interface WebhookSenderOptions {
  store: WebhookStore;
  secrets: Secrets;
  logger: Logger;
  /** The trace log's (one line per committed message event); a sibling of `logger`, not its child, so keys are not repeated. */
  traceLogger: Logger;
  resolve: Resolve;
  transport: WebhookTransport;
  allow: readonly Cidr[];
  retryWindowMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  disableAfter: number;
  concurrency: number;
  tickMs?: number;
  random?: () => number;
  now?: () => number;
}

/** Full jitter (AWS architecture blog): uniform in [0, min(max, initial·2^attempt)], never below Retry-After. */
export function backoffMs(attempt: number, o: { initialMs: number; maxMs: number; retryAfterMs: number | null }, random = Math.random): number {
  const cap = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(attempt, 40));
  return Math.max(o.retryAfterMs ?? 0, Math.floor(random() * cap));
}

export function payloadOf(d: WebhookDeliveryRecord): WebhookPayload {
  return {
    type: d.type,
    sequence: d.sequence,
    message_event_index: d.messageEventIndex,
    message_id: d.messageId,
    job_id: d.jobId,
    at: new Date(d.at).toISOString(),
    data: d.data === null ? null : (JSON.parse(d.data) as Record<string, unknown>),
  };
}

export class WebhookSender {
  private readonly fanout: WebhookFanout;
  private readonly inFlight = new Map<string, Set<string>>();
  private readonly running = new Set<Promise<void>>();
  private readonly opened = new Map<string, Promise<string>>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticking = false;
  private stopped = false;
  private again = false;

  constructor(private readonly o: WebhookSenderOptions) {
    this.fanout = new WebhookFanout(o.store, o.logger, o.traceLogger);
  }

  private now() {
    return this.o.now?.() ?? Date.now();
  }

  start() {
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), this.o.tickMs ?? 100);
  }

  /** Stops taking work and waits for the attempts in flight (each is bounded by the transport's timeout). */
  async stop() {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.ticking || this.running.size) await Promise.allSettled([...this.running, new Promise((r) => setTimeout(r, 10))]);
  }

  /**
   * Delivers what is due until nothing is due or in flight, or `budgetMs` has passed; then lets
   * the attempts in flight finish (each bounded by the transport's timeout). For runtimes where
   * the caller schedules the next pass (a Durable Object's alarm) instead of a timer.
   */
  async pass(budgetMs: number): Promise<void> {
    const end = this.now() + budgetMs;
    this.stopped = false;
    await this.tick();
    while ((this.running.size || this.ticking) && this.now() < end) await Promise.race([...this.running, new Promise((r) => setTimeout(r, 10))]);
    // Out of budget: no new attempts; the next pass takes what is left.
    this.stopped = true;
    while (this.ticking || this.running.size) await Promise.allSettled([...this.running, new Promise((r) => setTimeout(r, 10))]);
    this.stopped = false;
  }

  /** Another pass as soon as possible (an attempt finished: its message's next event may go). */
  private kick() {
    if (this.stopped) return;
    if (this.ticking) this.again = true;
    else void this.tick();
  }

  async tick() {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    this.again = false;
    try {
      await this.fanout.drain(this.now());
      for (const e of await this.o.store.activeWebhookEndpoints()) {
        if (this.stopped) break;
        await this.fill(e);
      }
    } catch (err) {
      this.o.logger.warn({ err }, 'webhook tick failed; next tick retries');
    } finally {
      this.ticking = false;
    }
    if (this.again) setTimeout(() => this.kick(), 0);
  }

  /** Starts due deliveries of one endpoint up to its concurrency (1 while it is failing). */
  private async fill(e: WebhookEndpointRecord) {
    const mine = this.inFlight.get(e.id) ?? new Set<string>();
    this.inFlight.set(e.id, mine);
    const limit = e.consecutiveFailures >= 3 ? 1 : this.o.concurrency;
    if (mine.size >= limit) return;
    const due = await this.o.store.dueWebhookDeliveries(e.id, this.now(), limit + mine.size);
    for (const d of due) {
      if (mine.size >= limit) break;
      if (mine.has(d.id)) continue;
      mine.add(d.id);
      const p = this.attempt(e, d)
        .catch((err) => this.o.logger.warn({ err, webhook: e.id, delivery: d.id }, 'webhook attempt not recorded; retried on a later tick'))
        .finally(() => {
          mine.delete(d.id);
          this.running.delete(p);
          this.kick();
        });
      this.running.add(p);
    }
  }

  private secret(sealed: string): Promise<string> {
    let s = this.opened.get(sealed);
    if (!s) this.opened.set(sealed, (s = this.o.secrets.open(sealed)));
    return s;
  }

  private async signingSecrets(e: WebhookEndpointRecord, now: number): Promise<string[]> {
    const out = [await this.secret(e.secretEnc)];
    if (e.previousSecretEnc && (e.previousSecretExpiresAt ?? 0) > now) out.push(await this.secret(e.previousSecretEnc));
    return out;
  }

  private async attempt(e: WebhookEndpointRecord, d: WebhookDeliveryRecord) {
    const body = JSON.stringify(payloadOf(d));
    const started = this.now();
    const headers = { ...signDelivery(d.id, body, await this.signingSecrets(e, started), new Date(started)), 'content-type': 'application/json', 'user-agent': 'Postlane-Webhooks/1' };
    let result: TransportResult | null = null;
    let error = '';
    try {
      // Checked on every attempt, after DNS: the transport connects to exactly this address.
      const target = await checkTarget(e.url, this.o.resolve, this.o.allow);
      result = await this.o.transport(target, headers, body);
      if (result.status < 200 || result.status > 299) error = `HTTP ${result.status}`;
    } catch (err) {
      error = (err as Error).message || String(err);
    }
    const at = this.now();
    const outcome: DeliveryOutcome = error ? { ok: false, status: result?.status ?? null, error: error.slice(0, 500), at, nextAttemptAt: this.nextAttempt(d, at, result) } : { ok: true, status: result!.status, at };
    const health = await this.o.store.recordWebhookAttempt(d, outcome);
    if (!outcome.ok) {
      if (outcome.nextAttemptAt === null) this.o.logger.info({ webhook: e.id, delivery: d.id, sequence: d.sequence, error }, 'webhook delivery dead-lettered');
      await this.maybeDisable(e, health, at);
    }
  }

  private nextAttempt(d: WebhookDeliveryRecord, at: number, result: TransportResult | null): number | null {
    const first = d.firstAttemptAt ?? at;
    const end = first + this.o.retryWindowMs;
    if (at >= end) return null;
    const wait = backoffMs(d.attempts, { initialMs: this.o.retryInitialMs, maxMs: this.o.retryMaxMs, retryAfterMs: result?.retryAfterMs ?? null }, this.o.random);
    return Math.min(at + wait, end);
  }

  private async maybeDisable(e: WebhookEndpointRecord, h: { consecutiveFailures: number; failingSince: number | null }, at: number) {
    const tooMany = h.consecutiveFailures >= this.o.disableAfter;
    const tooLong = h.failingSince !== null && at - h.failingSince >= this.o.retryWindowMs;
    if (!tooMany && !tooLong) return;
    const reason = tooMany
      ? `${h.consecutiveFailures} attempts in a row failed (POSTLANE_WEBHOOK_DISABLE_AFTER ${this.o.disableAfter})`
      : `failing since ${new Date(h.failingSince!).toISOString()}, the whole retry window`;
    await this.o.store.disableWebhookEndpoint(e.id, reason, at);
    this.o.logger.warn({ webhook: e.id, tenant: e.tenantId, reason }, 'webhook endpoint disabled');
  }
}
