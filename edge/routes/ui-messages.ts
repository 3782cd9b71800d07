/** Dashboard: message search and a message's trace (the tenant's own messages only, as GET /v1/messages). */
import { z } from '@hono/zod-openapi';
import { JOB_STATES, LANES } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import { messagesPage, SINCE_CHOICES, tracePage } from '../ui/pages/messages.tsx';
import { optional, pageContext, parseInput, type UiApp, type UiRuntime } from '../ui/kit.ts';

const PAGE_SIZE = 50;

const FiltersSchema = z.object({
  id: optional(z.string().regex(/^msg_[A-Za-z0-9_-]{1,64}$/, 'a message id (msg_…)')),
  status: optional(z.enum(JOB_STATES)),
  lane: optional(z.enum(LANES)),
  domain: optional(z.string().max(255)),
  provider: optional(z.string().max(64)),
  since: optional(z.enum(Object.keys(SINCE_CHOICES) as [string, ...string[]])),
  cursor: optional(z.string().regex(/^msg_[A-Za-z0-9_-]{1,64}$/, 'the next page link of a previous page')),
});

export function registerUiMessages(ui: UiApp, rt: UiRuntime) {
  ui.get('/messages', async (c) => {
    const deps = c.get('deps');
    const q = parseInput(FiltersSchema, c.req.query());
    if (q.id) return c.redirect(`/ui/messages/${encodeURIComponent(q.id)}`, 303);
    const now = deps.now?.() ?? Date.now();
    const since = q.since ? new Date(now - SINCE_CHOICES[q.since].ms).toISOString() : undefined;
    const rows = await deps.store.listMessages(c.get('caller').tenantId, {
      status: q.status,
      lane: q.lane,
      domain: q.domain?.toLowerCase(),
      provider: q.provider,
      since,
      cursor: q.cursor,
      limit: PAGE_SIZE + 1,
    });
    const page = rows.slice(0, PAGE_SIZE);
    const next = rows.length > PAGE_SIZE ? page.at(-1)!.id : null;
    const { id: _id, ...filters } = q;
    return c.html(messagesPage(await pageContext(c, rt), { filters, rows: page, next }));
  });

  ui.get('/messages/:id', async (c) => {
    const id = parseInput(z.string().max(64), c.req.param('id'));
    const found = await c.get('deps').store.getMessage(c.get('caller').tenantId, id);
    if (!found) throw new ApiError('not_found', `no message ${id}`);
    return c.html(tracePage(await pageContext(c, rt), found));
  });
}
