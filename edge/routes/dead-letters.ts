import { createRoute } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema } from '../../shared/api.ts';
import { DeadLetterListQuerySchema, DeadLetterListSchema, ReplayResultSchema, ReplaySchema } from '../../shared/api-operator.ts';
import { requireScope } from '../middleware/auth.ts';
import { listDeadLetters, replayDeadLetters } from '../services/dead-letters.ts';
import { errorResponses } from './responses.ts';

const list = createRoute({
  method: 'get',
  path: '/v1/dead-letters',
  summary: 'Dead-lettered jobs (retries spent or refused for good), newest first, with reason chain and retry history',
  description: 'Content is redacted; an admin key with a `reason` sees headers and body, and each reveal is written to the audit log.',
  middleware: [requireScope('read')] as const,
  request: { query: DeadLetterListQuerySchema },
  responses: {
    200: { description: 'A page of dead letters', content: { 'application/json': { schema: DeadLetterListSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const replay = createRoute({
  method: 'post',
  path: '/v1/dead-letters/replay',
  summary: 'Replay dead letters (by id or filter) as new delivery jobs with new constraints; a replay twice sends once',
  description: 'Recipients on the suppression list are refused unless `force` with a `reason` (admin key; audited).',
  middleware: [requireScope('send')] as const,
  request: { body: { content: { 'application/json': { schema: ReplaySchema } }, required: true } },
  responses: {
    200: { description: 'What was replayed, already replayed, refused or not found', content: { 'application/json': { schema: ReplayResultSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

export function registerDeadLetters(app: App) {
  app.openapi(list, async (c) => c.json(await listDeadLetters(c.get('deps'), c.get('caller'), c.req.valid('query')), 200));
  app.openapi(replay, async (c) => c.json(await replayDeadLetters(c.get('deps'), c.get('caller'), c.req.valid('json')), 200));
}
