/**
 * The one-click unsubscribe endpoint of List-Unsubscribe (RFC 8058). Public: the signed token is
 * the only credential (edge/services/unsubscribe.ts). `POST` with the body
 * `List-Unsubscribe=One-Click` (what mailbox providers send, RFC 8058 §3.2) unsubscribes at
 * once; `GET` only shows a page with a button that makes that POST, because link scanners and
 * prefetchers follow GETs (RFC 8058 §1: a GET must not unsubscribe).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { App, AppEnv } from '../context.ts';
import { readUnsubscribeToken, unsubscribeByToken } from '../services/unsubscribe.ts';

const Params = z.object({ token: z.string().min(1).max(8192) });
const OneClick = z.object({ 'List-Unsubscribe': z.literal('One-Click', { error: 'the one-click body is List-Unsubscribe=One-Click (RFC 8058 §3.2)' }) });
const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

const page = createRoute({
  method: 'get',
  path: '/u/{token}',
  summary: 'Unsubscribe confirmation page (no key; nothing changes on GET)',
  security: [],
  request: { params: Params },
  responses: { 200: html('A page with the unsubscribe button'), 404: html('The link is not one this platform signed') },
});

/** Before the body is looked at: a token this platform did not sign is a 404, whatever was posted. */
const signedToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(await readUnsubscribeToken(c.get('deps'), c.req.param('token') ?? ''))) return notSigned(c);
  await next();
};

const oneClick = createRoute({
  method: 'post',
  path: '/u/{token}',
  summary: 'One-click unsubscribe (RFC 8058): suppresses the recipient for the sender at once (no key)',
  security: [],
  middleware: [signedToken] as const,
  request: {
    params: Params,
    body: {
      content: { 'application/x-www-form-urlencoded': { schema: OneClick }, 'multipart/form-data': { schema: OneClick } },
      required: true,
    },
  },
  responses: { 200: html('Unsubscribed (also when it already was)'), 400: html('The body is not List-Unsubscribe=One-Click'), 404: html('The link is not one this platform signed') },
});

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function document(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}button{font:inherit;padding:.5rem 1.25rem}</style></head><body>${body}</body></html>`;
}

function notSigned(c: Context<AppEnv>) {
  c.header('Cache-Control', 'no-store');
  return c.html(document('Link not valid', '<h1>This unsubscribe link is not valid</h1><p>It may have been changed or cut short. Use the link in the email as it came.</p>'), 404);
}

export function registerUnsubscribe(app: App) {
  app.openapi(
    page,
    async (c) => {
      const claim = await readUnsubscribeToken(c.get('deps'), c.req.valid('param').token);
      if (!claim) return notSigned(c);
      c.header('Cache-Control', 'no-store');
      return c.html(
        document(
          'Unsubscribe',
          `<h1>Unsubscribe</h1><p>Stop ${escapeHtml(claim.lane)} mail from <strong>${escapeHtml(claim.senderDomain)}</strong> to <strong>${escapeHtml(claim.recipient)}</strong>?</p>` +
            // The same POST a mailbox provider sends: one code path for both.
            `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
        ),
        200,
      );
    },
  );

  app.openapi(
    oneClick,
    async (c) => {
      const outcome = await unsubscribeByToken(c.get('deps'), c.req.valid('param').token, 'one_click');
      if (!outcome.ok) return notSigned(c);
      c.header('Cache-Control', 'no-store');
      return c.html(document('Unsubscribed', `<h1>You are unsubscribed</h1><p>${escapeHtml(outcome.claim.recipient)} will get no more mail from this sender (${escapeHtml(outcome.claim.senderDomain)}).</p>`), 200);
    },
  );
}
