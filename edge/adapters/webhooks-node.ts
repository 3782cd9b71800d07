/** The webhook sender on the Node edge: settings → WebhookSender over node:dns and node:http(s). */
import type { AppDeps } from '../ports/app.ts';
import type { WebhookConfig } from '../ports/webhooks.ts';
import type { Settings } from '../settings.ts';
import { WebhookSender } from '../webhooks/sender.ts';
import { checkTarget, parseCidr, type Cidr } from '../webhooks/ssrf.ts';
import { postWebhook, resolveHost } from './webhook-http.ts';

export function startWebhooks(settings: Settings, deps: Pick<AppDeps, 'store' | 'secrets' | 'logger'>): { config: WebhookConfig; sender: WebhookSender } {
  const allow: Cidr[] = settings.POSTLANE_WEBHOOK_ALLOW.map((c) => parseCidr(c)!);
  const sender = new WebhookSender({
    store: deps.store,
    secrets: deps.secrets,
    logger: deps.logger.child({ svc: 'webhooks' }),
    resolve: resolveHost,
    transport: (target, headers, body) => postWebhook(target, headers, body),
    allow,
    retryWindowMs: settings.POSTLANE_WEBHOOK_RETRY_WINDOW_MS,
    retryInitialMs: settings.POSTLANE_WEBHOOK_RETRY_INITIAL_MS,
    retryMaxMs: settings.POSTLANE_WEBHOOK_RETRY_MAX_MS,
    disableAfter: settings.POSTLANE_WEBHOOK_DISABLE_AFTER,
    concurrency: settings.POSTLANE_WEBHOOK_CONCURRENCY,
  });
  sender.start();
  const config: WebhookConfig = {
    checkUrl: async (url) => void (await checkTarget(url, resolveHost, allow)),
    secretOverlapMs: settings.POSTLANE_WEBHOOK_SECRET_OVERLAP_MS,
  };
  return { config, sender };
}
