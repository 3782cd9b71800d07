/**
 * `/v1/webhooks`: a tenant's endpoints (create, list, get, update, delete, rotate the secret).
 * The secret is shown once, at create and at rotation. Dead letters: routes/webhook-dead-letters.ts.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { CreateWebhookSchema, RotateSecretSchema, UpdateWebhookSchema, WebhookListSchema, WebhookSchema, WebhookWithSecretSchema } from '../../shared/webhooks.ts';
import { ApiError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { requireScope } from '../middleware/auth.ts';
import { checkWebhookUrl, DEFAULT_SECRET_OVERLAP_MS, webhookView } from '../services/webhooks.ts';
import { newWebhookSecret } from '../webhooks/signing.ts';
import { actorOf, recordAudit } from '../services/audit.ts';
import { errorResponses } from './responses.ts';

const IdParam = z.object({ id: z.string().min(1).max(64) });
const json = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { 'application/json': { schema } } });
const body = <S extends z.ZodType>(schema: S, required = true) => ({ body: { content: { 'application/json': { schema } }, required } });

const create = createRoute({
  method: 'post',
  path: '/v1/webhooks',
  summary: 'Add a webhook endpoint: message events of the chosen types are POSTed to it, signed (Standard Webhooks)',
  middleware: [requireScope('admin')] as const,
  request: body(CreateWebhookSchema),
  responses: { 201: json(WebhookWithSecretSchema, 'Created; the secret is shown only here'), ...errorResponses(ErrorSchema, [400, 401, 403, 503]) },
});
const list = createRoute({
  method: 'get',
  path: '/v1/webhooks',
  summary: "The tenant's webhook endpoints",
  middleware: [requireScope('read')] as const,
  responses: { 200: json(WebhookListSchema, 'Endpoints'), ...errorResponses(ErrorSchema, [401, 403, 503]) },
});
const get = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}',
  summary: 'One webhook endpoint, with its stream position and failure record',
  middleware: [requireScope('read')] as const,
  request: { params: IdParam },
  responses: { 200: json(WebhookSchema, 'The endpoint'), ...errorResponses(ErrorSchema, [401, 403, 404, 503]) },
});
const update = createRoute({
  method: 'patch',
  path: '/v1/webhooks/{id}',
  summary: 'Change an endpoint (URL, event types, filters, enabled)',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam, ...body(UpdateWebhookSchema) },
  responses: { 200: json(WebhookSchema, 'Updated'), ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});
const remove = createRoute({
  method: 'delete',
  path: '/v1/webhooks/{id}',
  summary: 'Delete an endpoint and its pending deliveries',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam },
  responses: { 200: json(z.object({ id: z.string(), deleted: z.literal(true) }), 'Deleted'), ...errorResponses(ErrorSchema, [401, 403, 404, 503]) },
});
const rotate = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/rotate-secret',
  summary: 'New secret (shown once); the old one still signs, as a second signature, for the overlap (default 24 h)',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam, ...body(RotateSecretSchema, false) },
  responses: { 200: json(WebhookWithSecretSchema, 'Rotated'), ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

const notFound = (id: string) => new ApiError('not_found', `no webhook ${id}`);

export function registerWebhooks(app: App) {
  app.openapi(create, async (c) => {
    const deps = c.get('deps');
    const { tenantId, keyId } = c.get('caller');
    const b = c.req.valid('json');
    await checkWebhookUrl(deps, b.url);
    const now = deps.now?.() ?? Date.now();
    const secret = newWebhookSecret();
    const row = await deps.store.createWebhookEndpoint({
      id: newId('whk', now),
      tenantId,
      url: b.url,
      description: b.description ?? null,
      eventTypes: b.event_types,
      lanes: b.lanes ?? null,
      domains: b.domains ?? null,
      enabled: b.enabled,
      secretEnc: await deps.secrets.seal(secret),
      previousSecretEnc: null,
      previousSecretExpiresAt: null,
      nextSequence: 1,
      consecutiveFailures: 0,
      failingSince: null,
      disabledReason: null,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
    });
    deps.logger.info({ tenant: tenantId, key: keyId, webhook: row.id }, 'webhook created');
    await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'webhook.create', target: { kind: 'webhook', id: row.id }, before: null, after: webhookView(row, now) });
    return c.json({ ...webhookView(row, now), secret }, 201);
  });

  app.openapi(list, async (c) => {
    const deps = c.get('deps');
    const now = deps.now?.() ?? Date.now();
    const rows = await deps.store.listWebhookEndpoints(c.get('caller').tenantId);
    return c.json({ data: rows.map((r) => webhookView(r, now)) }, 200);
  });

  app.openapi(get, async (c) => {
    const deps = c.get('deps');
    const { id } = c.req.valid('param');
    const row = await deps.store.getWebhookEndpoint(c.get('caller').tenantId, id);
    if (!row) throw notFound(id);
    return c.json(webhookView(row, deps.now?.() ?? Date.now()), 200);
  });

  app.openapi(update, async (c) => {
    const deps = c.get('deps');
    const { tenantId } = c.get('caller');
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const before = await deps.store.getWebhookEndpoint(tenantId, id);
    if (!before) throw notFound(id);
    if (b.url !== undefined) await checkWebhookUrl(deps, b.url);
    const now = deps.now?.() ?? Date.now();
    const row = await deps.store.updateWebhookEndpoint(
      tenantId,
      id,
      {
        ...(b.url !== undefined ? { url: b.url } : {}),
        ...(b.event_types !== undefined ? { eventTypes: b.event_types } : {}),
        ...(b.lanes !== undefined ? { lanes: b.lanes } : {}),
        ...(b.domains !== undefined ? { domains: b.domains } : {}),
        ...(b.description !== undefined ? { description: b.description } : {}),
        ...(b.enabled !== undefined ? { enabled: b.enabled, resetFailures: b.enabled } : {}),
      },
      now,
    );
    if (!row) throw notFound(id);
    await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'webhook.update', target: { kind: 'webhook', id }, before: webhookView(before, now), after: webhookView(row, now) });
    return c.json(webhookView(row, now), 200);
  });

  app.openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const before = await deps.store.getWebhookEndpoint(c.get('caller').tenantId, id);
    if (!before || !(await deps.store.deleteWebhookEndpoint(c.get('caller').tenantId, id))) throw notFound(id);
    await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'webhook.delete', target: { kind: 'webhook', id }, before: webhookView(before, deps.now?.() ?? Date.now()), after: null });
    return c.json({ id, deleted: true as const }, 200);
  });

  app.openapi(rotate, async (c) => {
    const deps = c.get('deps');
    const { tenantId, keyId } = c.get('caller');
    const { id } = c.req.valid('param');
    const b = (c.req.valid('json') as { overlap_ms?: number } | undefined) ?? {};
    const now = deps.now?.() ?? Date.now();
    const overlap = b.overlap_ms ?? deps.webhooks?.secretOverlapMs ?? DEFAULT_SECRET_OVERLAP_MS;
    const secret = newWebhookSecret();
    const row = await deps.store.rotateWebhookSecret(tenantId, id, await deps.secrets.seal(secret), now + overlap, now);
    if (!row) throw notFound(id);
    deps.logger.info({ tenant: tenantId, key: keyId, webhook: id, overlap_ms: overlap }, 'webhook secret rotated');
    // The secrets themselves never reach the log: what changed is that one was rotated, and until when the old one works.
    await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'webhook.rotate_secret', target: { kind: 'webhook', id }, before: null, after: { previous_secret_expires_at: new Date(now + overlap).toISOString() } });
    return c.json({ ...webhookView(row, now), secret }, 200);
  });
}
