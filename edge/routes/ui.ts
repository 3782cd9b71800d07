/**
 * The dashboard (SPEC §7, issue 15) at /ui: HTML pages rendered on the server from the same
 * ports the API uses, so it runs wherever the app runs (Node and Workers). Its own sub-app
 * carries the session check and an HTML error page; every page file (edge/routes/ui-*.ts)
 * registers on it. Not in the OpenAPI document: these are pages for a browser, not the JSON API
 * (test/integration/isolation.test.ts states that rule and checks /ui answers no JSON).
 */
import { Hono, type Context } from 'hono';
import { z } from '@hono/zod-openapi';
import type { App, AppEnv } from '../context.ts';
import { sha256Hex } from '../../shared/ids.ts';
import { toApiError } from '../middleware/errors.ts';
import { buildUiAssets, type UplotSource } from '../ui/assets.ts';
import { canView, endSession, loginNonce, loginNonceMatches, requireSession, startSession, type UiEnv } from '../ui/session.ts';
import { errorPage, loginPage } from '../ui/pages/basic.tsx';
import { changeForm, readForm, type UiRuntime } from '../ui/kit.ts';
import { registerUiOverview } from './ui-overview.ts';
import { registerUiProviders } from './ui-providers.ts';
import { registerUiPools } from './ui-pools.ts';
import { registerUiMessages } from './ui-messages.ts';
import { registerUiSuppressions } from './ui-suppressions.ts';
import { registerUiDomains } from './ui-domains.ts';
import { registerUiWebhooks } from './ui-webhooks.ts';
import { registerUiDeadLetters } from './ui-dead-letters.ts';

/** Only a local path: a sign-in link cannot send the browser to another site. */
const NextSchema = z
  .string()
  .max(500)
  .regex(/^\/ui(\/[^/\\]|$|\?)/, 'a dashboard path')
  .catch('/ui');

const LoginSchema = z.object({ api_key: z.string().min(8).max(200), _csrf: z.string().min(1), next: NextSchema });

export function registerUi(app: App, uplot: UplotSource | null) {
  const rt: UiRuntime = { assets: buildUiAssets(uplot) };
  const ui = new Hono<UiEnv>();

  ui.onError(async (error, c) => {
    const apiError = toApiError(error);
    const deps = c.get('deps');
    if (apiError.code === 'internal' || apiError.code === 'store_unavailable') deps?.logger.error({ err: error, path: c.req.path }, apiError.message);
    if (apiError.retryAfterSeconds !== undefined) c.header('Retry-After', String(apiError.retryAfterSeconds));
    const titles: Record<number, string> = { 400: 'That did not work', 401: 'Sign in again', 403: 'Not allowed', 404: 'Not found' };
    return c.html(
      errorPage({ assets: await rt.assets, status: apiError.status, title: titles[apiError.status] ?? 'Something went wrong', message: apiError.message }),
      apiError.status as 400,
    );
  });
  ui.use('*', async (c, next) => {
    await next();
    // Pages show tenant data: never cached, never framed, scripts and styles from here only.
    if (!c.req.path.startsWith('/ui/assets/')) {
      c.header('Cache-Control', 'no-store');
      c.header(
        'Content-Security-Policy',
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
      );
      c.header('X-Content-Type-Options', 'nosniff');
      c.header('Referrer-Policy', 'same-origin');
    }
  });

  ui.get('/assets/:file', async (c) => {
    const asset = (await rt.assets).get(c.req.param('file'));
    if (!asset) return c.text('no such asset', 404);
    // The name carries the content's hash: a cached copy is right for ever.
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' });
  });

  ui.get('/login', async (c) => {
    const next = NextSchema.parse(c.req.query('next') ?? '/ui');
    return c.html(loginPage({ assets: await rt.assets, nonce: loginNonce(c), next }));
  });

  ui.post('/login', async (c) => {
    const deps = c.get('deps');
    const body = await readForm(c).catch(() => ({}) as Record<string, string>);
    const assets = await rt.assets;
    const again = (status: 400 | 401 | 403, error: string) =>
      c.html(loginPage({ assets, nonce: loginNonce(c), next: NextSchema.parse(body.next ?? '/ui'), error }), status);
    if (!loginNonceMatches(c, body._csrf)) return again(403, 'The form expired or came from elsewhere: sign in again.');
    const form = LoginSchema.safeParse(body);
    if (!form.success) return again(400, 'Enter an API key.');
    const key = await deps.store.findApiKey(await sha256Hex(form.data.api_key.trim()));
    const now = deps.now?.() ?? Date.now();
    if (!key || (key.expiresAt != null && key.expiresAt <= now)) return again(401, 'That API key is unknown or revoked.');
    if (!canView(key.scopes)) return again(403, 'That key has no read scope: the dashboard needs a read or admin key.');
    await startSession(c as unknown as Context<AppEnv>, key.keyId);
    deps.logger.info({ tenant: key.tenantId, key: key.keyId }, 'dashboard sign-in');
    return c.redirect(form.data.next, 303);
  });

  ui.use('*', async (c, next) => {
    if (c.req.path.startsWith('/ui/assets/') || c.req.path === '/ui/login') return next();
    return requireSession()(c, next);
  });

  ui.post('/logout', async (c) => {
    await changeForm(c);
    endSession(c);
    return c.redirect('/ui/login', 303);
  });

  registerUiOverview(ui, rt);
  registerUiProviders(ui, rt);
  registerUiPools(ui, rt);
  registerUiMessages(ui, rt);
  registerUiSuppressions(ui, rt);
  registerUiDomains(ui, rt);
  registerUiDeadLetters(ui, rt);
  registerUiWebhooks(ui, rt);

  // Last: any other /ui path is a page that does not exist (an HTML answer, like the rest of /ui).
  ui.get('*', async (c) => c.html(errorPage({ assets: await rt.assets, status: 404, title: 'Not found', message: `There is no page ${c.req.path}.` }), 404));
  app.route('/ui', ui as unknown as Hono<AppEnv>);
}
