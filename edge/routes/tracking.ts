/**
 * Tracking links (edge/services/tracking.ts). Public: the signed token is the credential.
 * `GET /t/o/:token` answers a 1×1 transparent GIF and records `opened`; `GET /t/c/:token`
 * redirects (302) to the URL inside the signed token and records `clicked`. A token this
 * platform did not sign is a 404 and redirects nowhere.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { App, AppEnv } from '../context.ts';
import { readTrackingToken, recordEngagement } from '../services/tracking.ts';

const Params = z.object({ token: z.string().min(1).max(8192) });

// The smallest transparent GIF89a, 1×1.
const PIXEL = Uint8Array.from(atob('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'), (ch) => ch.charCodeAt(0));

const open = createRoute({
  method: 'get',
  path: '/t/o/{token}',
  summary: 'Open-tracking pixel: a 1×1 GIF; records `opened` (no key)',
  security: [],
  request: { params: Params },
  responses: {
    200: { description: 'The pixel', content: { 'image/gif': { schema: z.string().openapi({ format: 'binary' }) } } },
    404: { description: 'The token is not one this platform signed', content: { 'text/plain': { schema: z.string() } } },
  },
});

const click = createRoute({
  method: 'get',
  path: '/t/c/{token}',
  summary: 'Click-tracking redirect: 302 to the URL signed into the token; records `clicked` (no key)',
  security: [],
  request: { params: Params },
  responses: {
    302: { description: 'To the link target' },
    404: { description: 'The token is not one this platform signed', content: { 'text/plain': { schema: z.string() } } },
  },
});

function notSigned(c: Context<AppEnv>) {
  c.header('Cache-Control', 'no-store');
  return c.text('not a valid tracking link', 404);
}

export function registerTracking(app: App) {
  app.openapi(open, async (c) => {
    const deps = c.get('deps');
    const claim = await readTrackingToken(deps, 'open', c.req.valid('param').token);
    if (!claim) return notSigned(c);
    await recordEngagement(deps, 'open', claim, c.req.header('user-agent') ?? null);
    // Every fetch is an open to count: no caching by the client or a proxy.
    c.header('Cache-Control', 'no-store, no-cache, must-revalidate, private');
    return c.body(PIXEL, 200, { 'Content-Type': 'image/gif' });
  });

  app.openapi(click, async (c) => {
    const deps = c.get('deps');
    const claim = await readTrackingToken(deps, 'click', c.req.valid('param').token);
    if (!claim) return notSigned(c);
    await recordEngagement(deps, 'click', claim, c.req.header('user-agent') ?? null);
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    return c.redirect(claim.url!, 302);
  });
}
