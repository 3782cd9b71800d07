/** Dashboard: the tenant's sending domains and their DNS records (as GET /v1/domains). */
import { z } from '@hono/zod-openapi';
import { authTargets } from '../services/domain-check.ts';
import { domainView } from '../services/domains.ts';
import { domainsPage } from '../ui/pages/domains.tsx';
import { pageContext, parseInput, type UiApp, type UiRuntime } from '../ui/kit.ts';

/** Each domain shows its records, so a page holds few. */
const PAGE_SIZE = 20;
const QuerySchema = z.object({ page: z.coerce.number().int().min(1).max(100_000).default(1) });

export function registerUiDomains(ui: UiApp, rt: UiRuntime) {
  ui.get('/domains', async (c) => {
    const deps = c.get('deps');
    const { page } = parseInput(QuerySchema, c.req.query());
    const [rows, targets] = await Promise.all([deps.store.listDomains(c.get('caller').tenantId), authTargets(deps)]);
    const slice = rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    const next = rows.length > page * PAGE_SIZE ? String(page + 1) : null;
    return c.html(domainsPage(await pageContext(c, rt), { domains: slice.map((r) => domainView(r, targets)), total: rows.length, pageNumber: page, next }));
  });
}
