/** Dashboard: the tenant's suppression list; the same scopes as the API (add: send, remove: admin). */
import { z } from '@hono/zod-openapi';
import { SUPPRESSION_REASONS } from '../../shared/api.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { parseMailbox } from '../../shared/address.ts';
import { hasScope } from '../ui/session.ts';
import { suppressionsPage } from '../ui/pages/suppressions.tsx';
import { changeForm, optional, pageContext, parseInput, type UiApp, type UiRuntime } from '../ui/kit.ts';

const PAGE_SIZE = 100;

const ListSchema = z.object({
  contains: optional(z.string().max(320)),
  reason: optional(z.enum(SUPPRESSION_REASONS)),
  cursor: optional(z.string().regex(/^\d{1,18}$/, 'the next page link of a previous page')),
  done: optional(z.enum(['added', 'already', 'removed'])),
});
const AddSchema = z.object({ address: z.string().min(3).max(320), reason: z.enum(SUPPRESSION_REASONS).default('manual'), note: optional(z.string().max(500)) });
const RemoveSchema = z.object({ address: z.string().min(3).max(320) });
const DONE = {
  added: 'Added to the suppression list.',
  already: 'That address was already listed; its first reason stands.',
  removed: 'Removed: sending to it resumes.',
};

/** The list's key, as the API makes it: syntax checked (RFC 5321/5322), lower-cased. */
function listAddress(value: string): string {
  const parsed = parseMailbox(value);
  if (!parsed.ok) throw invalid('address', parsed.reason);
  return parsed.mailbox.address.toLowerCase();
}

export function registerUiSuppressions(ui: UiApp, rt: UiRuntime) {
  ui.get('/suppressions', async (c) => {
    const q = parseInput(ListSchema, c.req.query());
    const rows = await c.get('deps').store.listSuppressions(c.get('caller').tenantId, {
      contains: q.contains,
      reason: q.reason,
      before: q.cursor !== undefined ? Number(q.cursor) : undefined,
      limit: PAGE_SIZE + 1,
    });
    const page = rows.slice(0, PAGE_SIZE);
    const next = rows.length > PAGE_SIZE ? String(page.at(-1)!.id) : null;
    return c.html(
      suppressionsPage(await pageContext(c, rt), {
        filters: { contains: q.contains, reason: q.reason, cursor: q.cursor },
        rows: page,
        next,
        notice: q.done && DONE[q.done],
      }),
    );
  });

  ui.post('/suppressions', async (c) => {
    const form = await changeForm(c);
    const caller = c.get('caller');
    if (!hasScope(caller, 'send')) throw new ApiError('forbidden', 'this key lacks the "send" scope: it cannot add suppressions', { scope: 'send' });
    const body = parseInput(AddSchema, form);
    const deps = c.get('deps');
    const address = listAddress(body.address);
    const added = await deps.store.addSuppressions([
      {
        tenantId: caller.tenantId,
        address,
        reason: body.reason,
        source: body.note ?? `added in the dashboard by key ${caller.keyId}`,
        messageId: null,
        jobId: null,
        createdAt: deps.now?.() ?? Date.now(),
      },
    ]);
    deps.logger.info({ tenant: caller.tenantId, key: caller.keyId, address, created: added.length > 0 }, 'suppression added (dashboard)');
    return c.redirect(`/ui/suppressions?done=${added.length > 0 ? 'added' : 'already'}`, 303);
  });

  ui.post('/suppressions/remove', async (c) => {
    const form = await changeForm(c);
    const caller = c.get('caller');
    if (!hasScope(caller, 'admin')) throw new ApiError('forbidden', 'this key lacks the "admin" scope: it cannot remove suppressions', { scope: 'admin' });
    const address = listAddress(parseInput(RemoveSchema, form).address);
    const deps = c.get('deps');
    if (!(await deps.store.deleteSuppression(caller.tenantId, address))) throw new ApiError('not_found', `${address} is not on the suppression list`);
    deps.logger.info({ tenant: caller.tenantId, key: caller.keyId, address }, 'suppression removed (dashboard)');
    return c.redirect('/ui/suppressions?done=removed', 303);
  });
}
