/** Dashboard: the dead-letter queue (edge/services/dead-letters.ts) and replay of one job (send scope, as the API). */
import { z } from '@hono/zod-openapi';
import { LANES } from '../../shared/api.ts';
import { ApiError } from '../../shared/errors.ts';
import { hasScope } from '../ui/session.ts';
import { listDeadLetters, replayDeadLetters } from '../services/dead-letters.ts';
import { deadLettersPage } from '../ui/pages/dead-letters.tsx';
import { changeForm, optional, pageContext, parseInput, type UiApp, type UiRuntime } from '../ui/kit.ts';

const PAGE_SIZE = 50;
const QuerySchema = z.object({
  reason_class: optional(z.string().max(64)),
  provider: optional(z.string().max(64)),
  domain: optional(z.string().max(255)),
  lane: optional(z.enum(LANES)),
  replayed: optional(z.enum(['true', 'false'])),
  cursor: optional(z.string().regex(/^job_[A-Za-z0-9_-]{1,64}$/, 'the next page link of a previous page')),
  done: optional(z.enum(['replayed', 'already', 'refused'])),
});
const ReplaySchema = z.object({ job: z.string().regex(/^job_[A-Za-z0-9_-]{1,64}$/, 'a job id') });
const DONE = {
  replayed: 'Queued again as a new message.',
  already: 'That dead letter was replayed before: it is sent once.',
  refused: 'Not replayed: the recipient is on the suppression list.',
};

export function registerUiDeadLetters(ui: UiApp, rt: UiRuntime) {
  ui.get('/dead-letters', async (c) => {
    const { done, cursor, ...filter } = parseInput(QuerySchema, c.req.query());
    const page = await listDeadLetters(c.get('deps'), c.get('caller'), { ...filter, cursor, limit: PAGE_SIZE });
    return c.html(
      deadLettersPage(await pageContext(c, rt), { filters: { ...filter, cursor }, rows: page.data, next: page.next_cursor, notice: done && DONE[done] }),
    );
  });

  ui.post('/dead-letters/replay', async (c) => {
    const form = await changeForm(c);
    const caller = c.get('caller');
    if (!hasScope(caller, 'send')) throw new ApiError('forbidden', 'this key lacks the "send" scope: it cannot replay dead letters', { scope: 'send' });
    const { job } = parseInput(ReplaySchema, form);
    const out = await replayDeadLetters(c.get('deps'), caller, { ids: [job], limit: 1, force: false });
    if (out.not_found.length) throw new ApiError('not_found', `no dead letter ${job}`);
    const done = out.replayed.length ? 'replayed' : out.already_replayed.length ? 'already' : 'refused';
    return c.redirect(`/ui/dead-letters?done=${done}`, 303);
  });
}
