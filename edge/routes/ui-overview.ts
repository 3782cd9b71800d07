/** Dashboard: the Overview (outcomes per lane against the baseline, alerts, breakers, health). */
import { overviewOf } from '../ui/overview-data.ts';
import { overviewPage } from '../ui/pages/overview.tsx';
import { pageContext, type UiApp, type UiRuntime } from '../ui/kit.ts';

export function registerUiOverview(ui: UiApp, rt: UiRuntime) {
  ui.get('/', async (c) => {
    const deps = c.get('deps');
    const overview = await overviewOf(deps, c.get('caller'), deps.now?.() ?? Date.now(), deps.config.baselineDays);
    return c.html(overviewPage(await pageContext(c, rt), overview));
  });
}
