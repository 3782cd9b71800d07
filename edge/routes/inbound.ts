import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../context.ts';
import { ErrorSchema, InboundResultSchema } from '../../shared/api.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { parseMailbox } from '../../shared/address.ts';
import { invalidMessageReason } from '../../shared/feedback.ts';
import { requireScope } from '../middleware/auth.ts';
import { takeInbound } from '../services/feedback.ts';
import { errorResponses } from './responses.ts';

/** RFC 2046 §5.2.1: a whole message as a body part; what an MTA pipe hands over. */
const MEDIA_TYPE = 'message/rfc822';

const route = createRoute({
  method: 'post',
  path: '/v1/inbound',
  summary: 'Take a feedback report or bounce: an ARF complaint (RFC 5965) or a DSN (RFC 3464), as the raw message',
  description:
    'For an FBL mailbox or the MX of the VERP return-path domain to pipe into. The report is tied to its delivery job by the VERP address ' +
    '(the DSN envelope, Original-Mail-From, the original Return-Path) or the original Message-ID; the tenant is the job\'s. ' +
    'A complaint suppresses the recipient and counts against the pool and sender domain; a hard-bounce DSN suppresses. ' +
    'A report that matches nothing is 202 with matched=false and the reason. Needs the `feedback` (or `admin`) scope; ' +
    "a key of the operator tenant matches any tenant's jobs, others only their own.",
  middleware: [requireScope('feedback')] as const,
  request: {
    query: z.object({
      /** The envelope recipient the intake MTA received the report for (e.g. Postfix pipe ${recipient}). */
      envelope_to: z.string().max(320).optional(),
    }),
    body: { content: { [MEDIA_TYPE]: { schema: z.string() } }, required: true },
  },
  responses: {
    202: { description: 'Taken: matched and acted on, or recorded as unmatched with the reason', content: { 'application/json': { schema: InboundResultSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 413, 415, 503]),
  },
});

export function registerInbound(app: App) {
  app.openapi(route, async (c) => {
    const deps = c.get('deps');
    const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== MEDIA_TYPE) {
      throw new ApiError('unsupported_media_type', `the body must be a raw message with Content-Type: ${MEDIA_TYPE}, not ${type || 'none'}`, { field: 'content-type', reason: `expected ${MEDIA_TYPE}`, expected: MEDIA_TYPE });
    }
    const { envelope_to } = c.req.valid('query');
    let envelopeTo: string | null = null;
    if (envelope_to !== undefined) {
      const parsed = parseMailbox(envelope_to);
      if (!parsed.ok) throw invalid('envelope_to', parsed.reason);
      envelopeTo = parsed.mailbox.address.toLowerCase();
    }
    const raw = await c.req.text();
    const why = invalidMessageReason(raw);
    if (why) throw invalid('body', why);
    const result = await takeInbound(deps, c.get('caller'), raw, envelopeTo, deps.now?.() ?? Date.now());
    return c.json(result, 202);
  });
}
