/** Configuration as code: the JSON Schema, the live state as a document, plan, apply, rollback. */
import { createRoute, z } from '@hono/zod-openapi';
import { parse as parseYaml } from 'yaml';
import type { Context } from 'hono';
import type { App, AppEnv } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { ConfigDocumentSchema, type ConfigDocument } from '../../shared/config-schema.ts';
import { ApiError, issueField } from '../../shared/errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { actorOf } from '../services/audit.ts';
import { applyPlan, planConfig, planRollback, type PlanOutcome } from '../services/config/apply.ts';
import { documentOf } from '../services/config/diff.ts';
import { readLiveConfig } from '../services/config/state.ts';
import { errorResponses } from './responses.ts';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

const FieldChangeSchema = z.object({ path: z.string(), before: z.unknown(), after: z.unknown() });
const ChangeSchema = z.object({ action: z.enum(['create', 'change', 'delete']), kind: z.string(), id: z.string(), fields: z.array(FieldChangeSchema) }).openapi('ConfigChange');
const PlanSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['apply', 'rollback']),
    rollback_of: z.string().nullable(),
    base_version: z.number().int().openapi({ description: 'The seq of the latest version when planned (0: none yet)' }),
    state_hash: z.string().openapi({ description: "SHA-256 of the live state the plan was made against; the apply is refused if it moved" }),
    changes: z.array(ChangeSchema),
    summary: z.object({ create: z.number().int(), change: z.number().int(), delete: z.number().int() }),
    text: z.string().openapi({ description: 'The diff as a person reads it' }),
  })
  .openapi('ConfigPlan');

const schemaRoute = createRoute({
  method: 'get',
  path: '/v1/config/schema',
  summary: 'The configuration document\'s JSON Schema (for editors: `# yaml-language-server: $schema=…`)',
  middleware: [requireScope('read')] as const,
  responses: { 200: { description: 'JSON Schema (draft 2020-12)', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } }, ...errorResponses(ErrorSchema, [401, 403]) },
});

const current = createRoute({
  method: 'get',
  path: '/v1/config',
  summary: 'The live configuration as a document (every section), with its state hash',
  middleware: [requireScope('admin')] as const,
  responses: { 200: { description: 'The document', content: { 'application/json': { schema: z.object({ document: ConfigDocumentSchema, state_hash: z.string() }) } } }, ...errorResponses(ErrorSchema, [401, 403, 503]) },
});

const plan = createRoute({
  method: 'post',
  path: '/v1/config/plan',
  summary: 'Plan a configuration document (JSON or YAML): the diff against the live state, changing nothing; sections left out are not touched',
  middleware: [requireScope('admin')] as const,
  // Not `required`: with it the JSON validator would run on YAML bodies too; requestDocument refuses a missing body (415).
  request: { body: { content: { 'application/json': { schema: ConfigDocumentSchema }, 'application/yaml': { schema: z.string() } }, required: false } },
  responses: { 201: { description: 'The plan', content: { 'application/json': { schema: PlanSchema } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 415, 503]) },
});

const apply = createRoute({
  method: 'post',
  path: '/v1/config/apply',
  summary: 'Apply a plan atomically (all or nothing); 409 if the live state changed since the plan or another apply won',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: z.object({ plan_id: z.string().min(1).max(64) }).strict() } }, required: true } },
  responses: {
    200: {
      description: 'Applied: the new version',
      content: { 'application/json': { schema: z.object({ version: z.object({ id: z.string(), seq: z.number().int(), changes: z.number().int(), state_hash: z.string() }), webhook_secrets: z.record(z.string(), z.string()).openapi({ description: 'Signing secrets of webhooks this apply created, by URL: shown once' }) }) } },
    },
    ...errorResponses(ErrorSchema, [400, 401, 403, 404, 409, 503]),
  },
});

const rollback = createRoute({
  method: 'post',
  path: '/v1/config/rollback',
  summary: 'Plan a rollback to an earlier version (apply it like any plan); webhooks and domains it re-creates get new secrets and DKIM keys',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: z.object({ version_id: z.string().min(1).max(64) }).strict() } }, required: true } },
  responses: { 201: { description: 'The plan', content: { 'application/json': { schema: PlanSchema } } }, ...errorResponses(ErrorSchema, [400, 401, 403, 404, 503]) },
});

export function planView({ plan: p, changes, text }: PlanOutcome) {
  const count = (a: string) => changes.filter((c) => c.action === a).length;
  return {
    id: p.id,
    kind: p.kind,
    rollback_of: p.rollbackOf,
    base_version: p.baseSeq,
    state_hash: p.stateHash,
    changes: changes.map(({ action, kind, id, fields }) => ({ action, kind, id, fields })),
    summary: { create: count('create'), change: count('change'), delete: count('delete') },
    text,
  };
}

/** The document from a JSON body (validated by the route) or a YAML one (parsed, then validated alike). */
async function requestDocument(c: Context<AppEnv>): Promise<ConfigDocument> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return (c as unknown as Context<AppEnv, string, { out: { json: ConfigDocument } }>).req.valid('json');
  if (!YAML_TYPES.includes(type)) throw new ApiError('unsupported_media_type', `send the document as application/json or application/yaml, not ${type || 'none'}`, { field: 'content-type', reason: 'expected JSON or YAML', expected: 'application/json' });
  let raw: unknown;
  try {
    raw = parseYaml(await c.req.text());
  } catch (error) {
    throw new ApiError('invalid_request', `body: not YAML: ${(error as Error).message}`, { field: 'body', reason: (error as Error).message });
  }
  const parsed = ConfigDocumentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issueField(issue);
    throw new ApiError('invalid_request', `${field}: ${issue.message}`, { field, reason: issue.message });
  }
  return parsed.data;
}

export function registerConfig(app: App) {
  app.openapi(schemaRoute, (c) => c.json(z.toJSONSchema(ConfigDocumentSchema, { io: 'input' }) as Record<string, unknown>, 200));

  app.openapi(current, async (c) => {
    const live = await readLiveConfig(c.get('deps'), c.get('caller').tenantId);
    return c.json({ document: documentOf(live.state), state_hash: live.hash }, 200);
  });

  app.openapi(plan, async (c) => {
    const outcome = await planConfig(c.get('deps'), actorOf(c.get('caller')), c.get('caller').tenantId, await requestDocument(c));
    return c.json(planView(outcome), 201);
  });

  app.openapi(apply, async (c) => {
    const { version, webhookSecrets } = await applyPlan(c.get('deps'), actorOf(c.get('caller')), c.get('caller').tenantId, c.req.valid('json').plan_id);
    return c.json({ version: { id: version.id, seq: version.seq, changes: version.changes.length, state_hash: version.stateHash }, webhook_secrets: webhookSecrets }, 200);
  });

  app.openapi(rollback, async (c) => {
    const outcome = await planRollback(c.get('deps'), actorOf(c.get('caller')), c.get('caller').tenantId, c.req.valid('json').version_id);
    return c.json(planView(outcome), 201);
  });
}
