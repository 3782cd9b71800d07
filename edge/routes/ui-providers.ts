/** Dashboard: the Providers page and its live fragment (polled by app.js every few seconds). */
import { providerPanel } from '../ui/provider-panel.ts';
import { providersLive, providersPage } from '../ui/pages/providers.tsx';
import { pageContext, type UiApp, type UiRuntime } from '../ui/kit.ts';

export function registerUiProviders(ui: UiApp, rt: UiRuntime) {
  ui.get('/providers', async (c) => {
    const deps = c.get('deps');
    const panel = await providerPanel(deps, c.get('caller'), deps.now?.() ?? Date.now());
    return c.html(providersPage(await pageContext(c, rt), panel));
  });

  // The same figures as an HTML fragment: the page swaps it in, so there is one renderer.
  ui.get('/providers/live', async (c) => {
    const deps = c.get('deps');
    const panel = await providerPanel(deps, c.get('caller'), deps.now?.() ?? Date.now());
    return c.html(providersLive(panel));
  });
}
