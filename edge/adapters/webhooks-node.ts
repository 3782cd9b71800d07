/** The webhook sender on the Node edge: composed over node:dns and node:http(s), on its own timer. */
import { composeWebhooks } from '../compose.ts';
import type { AppDeps } from '../ports/app.ts';
import type { WebhookConfig } from '../ports/webhooks.ts';
import type { Settings } from '../settings.ts';
import type { WebhookSender } from '../webhooks/sender.ts';
import { postWebhook, resolveHost } from './webhook-http.ts';

export function startWebhooks(settings: Settings, deps: Pick<AppDeps, 'store' | 'secrets' | 'logger'>): { config: WebhookConfig; sender: WebhookSender } {
  const composed = composeWebhooks(settings, { ...deps, resolve: resolveHost, transport: (target, headers, body) => postWebhook(target, headers, body) });
  composed.sender.start();
  return composed;
}
