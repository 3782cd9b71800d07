/**
 * The one Hono app, built from its ports. It knows no runtime: `edge/node.ts` and
 * `edge/worker.ts` bind the ports and hand requests in.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.ts';
import type { AppDeps } from './ports/app.ts';
import { ApiError, issueField } from '../shared/errors.ts';
import { onError } from './middleware/errors.ts';
import { limitBody } from './middleware/body-limit.ts';
import { shedLoad } from './middleware/load-shed.ts';
import { registerHealth } from './routes/health.ts';
import { registerSendMessage } from './routes/messages-send.ts';
import { registerSendBatch } from './routes/messages-batch.ts';
import { registerGetMessage } from './routes/messages-get.ts';
import { registerListMessages } from './routes/messages-list.ts';
import { registerDomains } from './routes/domains.ts';
import { registerNodes } from './routes/nodes.ts';
import { registerTenants } from './routes/tenants.ts';
import { registerReputation } from './routes/reputation.ts';
import { registerPolicies } from './routes/policies.ts';
import { registerWarmups } from './routes/warmups.ts';
import { registerInbound } from './routes/inbound.ts';
import { registerSuppressions } from './routes/suppressions.ts';
import { registerWebhooks } from './routes/webhooks.ts';
import { registerWebhookDeadLetters } from './routes/webhook-dead-letters.ts';
import { registerDeadLetters } from './routes/dead-letters.ts';
import { registerHolds } from './routes/holds.ts';
import { registerCancelMessage } from './routes/messages-cancel.ts';
import { registerRescheduleMessage } from './routes/messages-reschedule.ts';
import { isResendPath, onResendError, registerResend } from './routes/resend/index.ts';
import { registerAudit } from './routes/audit.ts';
import { registerKeys } from './routes/keys.ts';
import { registerNodeTokens } from './routes/keys-node-tokens.ts';
import { registerPools } from './routes/pools.ts';
import { registerSourceIps } from './routes/pools-ips.ts';
import { registerConfig } from './routes/config.ts';
import { registerConfigVersions } from './routes/config-versions.ts';
import { registerTemplates } from './routes/templates.ts';
import { registerUnsubscribe } from './routes/unsubscribe.ts';
import { registerTracking } from './routes/tracking.ts';
import { registerUi } from './routes/ui.ts';
import { registerStats } from './routes/stats.ts';
import { registerAlerts } from './routes/alerts.ts';
import { registerExport } from './routes/export.ts';
import type { UplotSource } from './ui/assets.ts';

export const API_VERSION = '0.1.0';
/** A batch carries up to 1,000 messages; its body may be this many times one message's limit. */
const BATCH_BODY_FACTOR = 4;

/**
 * One body limit for every route, sized per route: a message (base64 attachments grow by 4/3,
 * and JSON adds its own; the per-message check in accept is exact), a batch, a feedback report
 * (part of the original message plus the report), and 1 MiB for every other JSON document.
 */
export function bodyLimits(maxMessageBytes: number): (path: string) => number {
  const single = Math.ceil(maxMessageBytes * 1.4) + 64 * 1024;
  return (path) => {
    if (path === '/v1/messages' || path === '/emails') return single;
    // Resend's batch is up to 100 emails, ours up to 1,000: the same bound holds both.
    if (path === '/v1/messages/batch' || path === '/emails/batch') return single * BATCH_BODY_FACTOR;
    if (path === '/v1/inbound') return maxMessageBytes + 256 * 1024;
    return DOCUMENT_BODY_BYTES;
  };
}
const DOCUMENT_BODY_BYTES = 1024 * 1024;
/** The routes that accept mail (their latency is the accept histogram; cancels and reschedules are not). */
const ACCEPT_ROUTES = new Set(['/v1/messages', '/v1/messages/batch', '/emails', '/emails/batch']);

export interface AppOptions {
  /** Runtime middleware, run before the size limits and the routes (the Node entry's body reader). */
  runtime?: MiddlewareHandler<AppEnv>[];
  /** uPlot's browser build as text, for the dashboard's charts: each entry reads it its own way (edge/ui/assets.ts). */
  uplot?: UplotSource;
}

export function createApp(deps: AppDeps, options: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>({
    // Every validation failure names the field and the reason (SPEC §2).
    defaultHook: (result) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const field = issueField(issue);
        throw new ApiError('invalid_request', `${field}: ${issue.message}`, { field, reason: issue.message });
      }
    },
  });

  app.use('*', async (c, next) => {
    c.set('deps', deps);
    const started = performance.now();
    await next();
    const route = c.req.routePath;
    deps.metrics.inc('postlane_api_requests_total', { route, status: String(c.res.status) });
    if (c.req.method === 'POST' && ACCEPT_ROUTES.has(route)) {
      deps.metrics.observe('postlane_accept_duration_seconds', { route }, (performance.now() - started) / 1000);
    }
  });
  // Before any body is read: a shed request costs nothing but its 503.
  if (deps.config.maxConcurrentRequests) app.use('*', shedLoad(deps.config.maxConcurrentRequests));
  for (const middleware of options.runtime ?? []) app.use('*', middleware);

  const tooLarge = (_c: unknown, limit: number) => {
    throw new ApiError('payload_too_large', `the request body is over this route's limit of ${limit} bytes`, { limit });
  };
  app.use('*', limitBody(bodyLimits(deps.config.maxMessageBytes), tooLarge));

  // The Resend-compatible paths answer in Resend's error shape, whatever refused the request.
  app.onError((error, c) => (isResendPath(c.req.path) ? onResendError : onError)(error, c));
  app.notFound((c) =>
    c.json(new ApiError('not_found', `no route ${c.req.method} ${c.req.path}`, { action: 'See /openapi.json for the routes this API serves.' }).toBody(), 404),
  );

  registerHealth(app);
  registerSendMessage(app);
  registerSendBatch(app);
  registerGetMessage(app);
  registerListMessages(app);
  registerCancelMessage(app);
  registerRescheduleMessage(app);
  registerDomains(app);
  registerNodes(app);
  registerTenants(app);
  registerReputation(app);
  registerPolicies(app);
  registerWarmups(app);
  registerInbound(app);
  registerSuppressions(app);
  registerWebhooks(app);
  registerWebhookDeadLetters(app);
  registerStats(app);
  registerAlerts(app);
  registerExport(app);
  // Resend-compatible (README "Coming from Resend"): /emails, /domains, /api-keys.
  registerResend(app);
  registerAudit(app);
  registerKeys(app);
  registerNodeTokens(app);
  registerPools(app);
  registerSourceIps(app);
  registerConfig(app);
  registerConfigVersions(app);
  registerTemplates(app);
  registerDeadLetters(app);
  registerHolds(app);
  // Public (no key): the signed token in the path is the credential.
  registerUnsubscribe(app);
  registerTracking(app);
  // The dashboard's HTML pages (cookie sessions, not in the OpenAPI document: see edge/routes/ui.ts).
  registerUi(app, options.uplot ?? null);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Postlane API', version: API_VERSION, description: 'Accept, track and steer email delivery.' },
    security: [{ bearer: [] }],
  });
  return app;
}
