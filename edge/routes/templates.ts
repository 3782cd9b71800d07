/** Stored templates (SPEC §7): create, list, read (any version), new version, delete. */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { App, AppEnv } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { CreateTemplateSchema, TemplateListSchema, TemplateQuerySchema, TemplateSchema, TemplateVersionBodySchema } from '../../shared/templates.ts';
import { ApiError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { requireScope } from '../middleware/auth.ts';
import { contentOf, templateVersionView } from '../services/templates.ts';
import type { TemplateRecord } from '../ports/templates.ts';
import type { Store } from '../ports/store.ts';
import { errorResponses } from './responses.ts';

const Params = z.object({ id: z.string().min(1).max(64) });
const json = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { 'application/json': { schema } } });

const create = createRoute({
  method: 'post',
  path: '/v1/templates',
  summary: 'Store a template (version 1): subject, text and/or html with Mustache variables',
  middleware: [requireScope('send')] as const,
  request: { body: { content: { 'application/json': { schema: CreateTemplateSchema } }, required: true } },
  responses: { 201: json(TemplateSchema, 'Stored'), ...errorResponses(ErrorSchema, [400, 401, 403, 503]) },
});

const list = createRoute({
  method: 'get',
  path: '/v1/templates',
  summary: "The tenant's templates, newest first",
  middleware: [requireScope('read')] as const,
  responses: { 200: json(TemplateListSchema, 'Templates'), ...errorResponses(ErrorSchema, [401, 403, 503]) },
});

const get = createRoute({
  method: 'get',
  path: '/v1/templates/{id}',
  summary: 'A template with its current version (or ?version=N) and the list of its versions',
  middleware: [requireScope('read')] as const,
  request: { params: Params, query: TemplateQuerySchema },
  responses: { 200: json(TemplateSchema, 'The template'), ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

/** Before the body is validated: another tenant's template id answers 404, whatever the body. */
const templateOfCaller: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = c.req.param('id') ?? '';
  if (!(await c.get('deps').store.getTemplate(c.get('caller').tenantId, id))) throw notFound(id);
  await next();
};

const update = createRoute({
  method: 'put',
  path: '/v1/templates/{id}',
  summary: 'A new version of the template, made current; earlier versions are kept and can still be sent',
  middleware: [requireScope('send'), templateOfCaller] as const,
  request: { params: Params, body: { content: { 'application/json': { schema: TemplateVersionBodySchema } }, required: true } },
  responses: { 200: json(TemplateSchema, 'The template at its new version'), ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/templates/{id}',
  summary: 'Delete the template and all its versions (mail already accepted is not affected)',
  middleware: [requireScope('send')] as const,
  request: { params: Params },
  responses: { 200: json(z.object({ id: z.string(), deleted: z.literal(true) }), 'Deleted'), ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

function notFound(id: string) {
  return new ApiError('not_found', `no template ${id}`, { field: 'id' });
}

async function view(store: Store, t: TemplateRecord, version: number | null) {
  const [content, versions] = await Promise.all([store.getTemplateVersion(t.tenantId, t.id, version), store.listTemplateVersions(t.tenantId, t.id)]);
  if (!content) throw new ApiError('not_found', `template ${t.id} has no version ${version}; it has 1 to ${t.currentVersion}`, { field: 'version' });
  return {
    id: t.id,
    name: t.name,
    current_version: t.currentVersion,
    created_at: new Date(t.createdAt).toISOString(),
    updated_at: new Date(t.updatedAt).toISOString(),
    content: templateVersionView(content),
    versions: versions.map((v) => ({ version: v.version, created_at: new Date(v.createdAt).toISOString() })),
  };
}

export function registerTemplates(app: App) {
  app.openapi(create, async (c) => {
    const { store, now } = c.get('deps');
    const body = c.req.valid('json');
    const content = contentOf(body);
    const at = now?.() ?? Date.now();
    const row: TemplateRecord = { id: newId('tpl', at), tenantId: c.get('caller').tenantId, name: body.name, currentVersion: 1, createdAt: at, updatedAt: at };
    await store.createTemplate(row, content);
    return c.json(await view(store, row, null), 201);
  });

  app.openapi(list, async (c) => {
    const rows = await c.get('deps').store.listTemplates(c.get('caller').tenantId);
    const data = rows.map((t) => ({ id: t.id, name: t.name, current_version: t.currentVersion, created_at: new Date(t.createdAt).toISOString(), updated_at: new Date(t.updatedAt).toISOString() }));
    return c.json({ data }, 200);
  });

  app.openapi(get, async (c) => {
    const { store } = c.get('deps');
    const { id } = c.req.valid('param');
    const t = await store.getTemplate(c.get('caller').tenantId, id);
    if (!t) throw notFound(id);
    return c.json(await view(store, t, c.req.valid('query').version ?? null), 200);
  });

  app.openapi(update, async (c) => {
    const { store, now } = c.get('deps');
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const t = await store.addTemplateVersion(c.get('caller').tenantId, id, contentOf(body), body.name ?? null, now?.() ?? Date.now());
    if (!t) throw notFound(id);
    return c.json(await view(store, t, null), 200);
  });

  app.openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await c.get('deps').store.deleteTemplate(c.get('caller').tenantId, id))) throw notFound(id);
    return c.json({ id, deleted: true as const }, 200);
  });
}
