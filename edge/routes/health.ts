import type { App } from '../context.ts';
import { toApiError } from '../middleware/errors.ts';

export function registerHealth(app: App) {
  app.get('/healthz', async (c) => {
    try {
      await c.get('deps').store.ping();
      return c.json({ ok: true, store: 'up' });
    } catch (error) {
      const e = toApiError(error);
      c.header('Retry-After', String(e.retryAfterSeconds ?? 1));
      return c.json({ ok: false, store: 'down', ...e.toBody() }, 503);
    }
  });

  app.get('/metrics', async (c) => {
    const metrics = c.get('deps').metrics;
    return c.body(await metrics.render(), 200, { 'content-type': metrics.contentType });
  });
}
