/** Dashboard: pools, IPs, breakers, warm-ups and suspensions (a tenant sees the pools it may use). */
import { poolsPanel } from '../ui/pools-data.ts';
import { poolsPage } from '../ui/pages/pools.tsx';
import { pageContext, type UiApp, type UiRuntime } from '../ui/kit.ts';

export function registerUiPools(ui: UiApp, rt: UiRuntime) {
  ui.get('/pools', async (c) => {
    const deps = c.get('deps');
    const panel = await poolsPanel(deps, c.get('caller'), deps.now?.() ?? Date.now());
    return c.html(poolsPage(await pageContext(c, rt), panel));
  });
}
