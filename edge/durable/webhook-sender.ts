/**
 * The webhook sender Durable Object: one for the deployment (`WEBHOOK_SENDER.idFromName('all')`),
 * running the same WebhookSender as the Node edge (edge/webhooks/sender.ts, composed by
 * edge/compose.ts) on alarms, since nothing in a Worker runs between its events. Each alarm runs
 * one bounded pass — fan out the events written since the cursor, deliver what is due — and sets
 * the next. The outbox, cursor, stream sequences and retry times are all in the store, so an
 * eviction or a restart mid-pass loses nothing: the next pass finds them where they were.
 *
 * Started by the Worker (`ensureRunning`, asked every few seconds per isolate), then it keeps itself running: every
 * ACTIVE_MS while an endpoint is enabled, every IDLE_MS otherwise (a new endpoint waits at most that).
 */
import { DurableObject } from 'cloudflare:workers';
import { composeWebhooks } from '../compose.ts';
import { dohDnsRecords } from '../adapters/doh-dns-records.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../ports/store.ts';
import type { WebhookSender } from '../webhooks/sender.ts';
import { fetchTransport, resolveWith } from '../webhooks/fetch-transport.ts';
import { workerRuntime, type WorkerBindings } from './env.ts';

/** Between passes while any endpoint is enabled, and while none is. */
export const ACTIVE_MS = 1000;
export const IDLE_MS = 10_000;
/** How long one pass takes new work: well inside an alarm's time limit (15 min). */
const PASS_BUDGET_MS = 20_000;

export class WebhookSenderObject extends DurableObject<WorkerBindings> {
  private sender!: WebhookSender;
  private store!: Store;
  private logger!: Logger;

  constructor(ctx: DurableObjectState, env: WorkerBindings) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const rt = await workerRuntime(env, 'webhooks');
      const dns = rt.settings.POSTLANE_DOH_URL === 'off' ? undefined : dohDnsRecords({ endpoint: rt.settings.POSTLANE_DOH_URL });
      this.sender = composeWebhooks(rt.settings, { ...rt, resolve: resolveWith(dns), transport: fetchTransport() }).sender;
      this.store = rt.store;
      this.logger = rt.logger;
    });
  }

  /** Sets the first alarm if none is set; the alarms keep themselves going after it. */
  async ensureRunning(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  async alarm() {
    try {
      await this.sender.pass(PASS_BUDGET_MS);
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'webhook pass failed; the next alarm retries');
    }
    const active = await this.store.activeWebhookEndpoints().then((e) => e.length > 0, () => true);
    await this.ctx.storage.setAlarm(Date.now() + (active ? ACTIVE_MS : IDLE_MS));
  }
}
