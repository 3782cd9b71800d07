/**
 * Dashboard sessions. Signing in exchanges an API key for a session token
 * `<key id>.<expires ms>.<nonce>.<mac>`, the mac an HMAC (Secrets.hmacKey, a key derived from the
 * master key) of the rest; it travels in an HttpOnly, SameSite=Strict cookie (Secure over https).
 * Every request verifies the mac and the expiry, then reads the key by id from the store, so a
 * revoked key ends its sessions at once and a changed scope applies on the next page.
 *
 * CSRF (OWASP "signed double-submit cookie"): the token is the HMAC of the session token under
 * its own purpose, set as a second cookie and written into every form; a POST is accepted only
 * when the form's token equals the cookie's and both equal the one the session derives.
 * SameSite=Strict already keeps cross-site requests from carrying the session; the token covers
 * browsers without it and same-site attackers (another app on a sibling subdomain).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv, Caller } from '../context.ts';
import type { AppDeps } from '../ports/app.ts';
import { base64url, randomChars } from '../../shared/ids.ts';

export const SESSION_COOKIE = 'pl_session';
export const CSRF_COOKIE = 'pl_csrf';
/** The sign-in form has no session yet: its token is a random nonce in its own cookie. */
export const LOGIN_CSRF_COOKIE = 'pl_login_csrf';
export const CSRF_FIELD = '_csrf';
/** Short-lived: one working hour, then the key is asked for again. */
export const SESSION_MS = 60 * 60_000;

const SESSION_PURPOSE = 'ui-session';
const CSRF_PURPOSE = 'ui-csrf';

export type UiEnv = { Variables: AppEnv['Variables'] & { session: string; csrf: string } };

const nowOf = (deps: AppDeps) => deps.now?.() ?? Date.now();

/** HMAC-SHA256 under the purpose's key (Secrets.hmacKey: HKDF from the master key), base64url. */
async function mac(deps: AppDeps, purpose: string, data: string): Promise<string> {
  const signature = await crypto.subtle.sign('HMAC', await deps.secrets.hmacKey(purpose), new TextEncoder().encode(data));
  return base64url(new Uint8Array(signature));
}

export async function issueSession(deps: AppDeps, keyId: string): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = nowOf(deps) + SESSION_MS;
  const body = `${keyId}.${expiresAt}.${randomChars(16)}`;
  return { token: `${body}.${await mac(deps, SESSION_PURPOSE, body)}`, expiresAt };
}

/** The key id a token names, if its mac verifies and it has not expired. */
export async function verifySession(deps: AppDeps, token: string): Promise<string | null> {
  const parts = token.split('.');
  if (parts.length !== 4) return null;
  const [keyId, expires, nonce, signature] = parts;
  const body = `${keyId}.${expires}.${nonce}`;
  if (!timingSafeEqual(signature, await mac(deps, SESSION_PURPOSE, body))) return null;
  const expiresAt = Number(expires);
  if (!Number.isFinite(expiresAt) || expiresAt <= nowOf(deps)) return null;
  return keyId;
}

export function csrfFor(deps: AppDeps, session: string): Promise<string> {
  return mac(deps, CSRF_PURPOSE, session);
}

/** Constant time in the length of the expected value: a mismatch position leaks nothing. */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function cookieOptions(c: Context, maxAgeSeconds: number) {
  return { httpOnly: true, sameSite: 'Strict' as const, secure: new URL(c.req.url).protocol === 'https:', path: '/ui', maxAge: maxAgeSeconds };
}

export async function startSession(c: Context<AppEnv>, keyId: string) {
  const deps = c.get('deps');
  const { token } = await issueSession(deps, keyId);
  const maxAge = SESSION_MS / 1000;
  setCookie(c, SESSION_COOKIE, token, cookieOptions(c, maxAge));
  setCookie(c, CSRF_COOKIE, await csrfFor(deps, token), cookieOptions(c, maxAge));
  deleteCookie(c, LOGIN_CSRF_COOKIE, { path: '/ui' });
}

export function endSession(c: Context) {
  deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
  deleteCookie(c, CSRF_COOKIE, { path: '/ui' });
}

/** A fresh nonce for the sign-in form, kept in its cookie for the POST to compare. */
export function loginNonce(c: Context): string {
  const nonce = randomChars(24);
  setCookie(c, LOGIN_CSRF_COOKIE, nonce, cookieOptions(c, 15 * 60));
  return nonce;
}

export function loginNonceMatches(c: Context, submitted: unknown): boolean {
  const expected = getCookie(c, LOGIN_CSRF_COOKIE);
  return typeof submitted === 'string' && !!expected && timingSafeEqual(submitted, expected);
}

export type SessionCheck = { kind: 'ok'; caller: Caller; session: string; csrf: string } | { kind: 'none' };

/** Who the session cookie is: mac, expiry, then the key by id (revoked or expired keys end it). */
export async function readSession(c: Context<AppEnv>): Promise<SessionCheck> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return { kind: 'none' };
  const deps = c.get('deps');
  const keyId = await verifySession(deps, token);
  if (!keyId) return { kind: 'none' };
  const key = await deps.store.findApiKeyById(keyId);
  if (!key || (key.expiresAt != null && key.expiresAt <= nowOf(deps))) return { kind: 'none' };
  // A key that cannot read cannot hold a dashboard session (sign-in refuses it too).
  if (!canView(key.scopes)) return { kind: 'none' };
  return { kind: 'ok', caller: { tenantId: key.tenantId, keyId: key.keyId, scopes: key.scopes }, session: token, csrf: await csrfFor(deps, token) };
}

export const canView = (scopes: string[]) => scopes.includes('read') || scopes.includes('admin');
/** The API's rule: a scope, or admin, which holds every scope. */
export const hasScope = (caller: Caller, scope: 'send' | 'read' | 'admin') => caller.scopes.includes(scope) || caller.scopes.includes('admin');

/**
 * Pages need a session: without one a GET is sent to the sign-in page (and back here after it),
 * anything else is answered 401.
 */
export function requireSession(): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const check = await readSession(c as unknown as Context<AppEnv>);
    if (check.kind === 'none') {
      endSession(c);
      if (c.req.method === 'GET') {
        const url = new URL(c.req.url);
        return c.redirect(`/ui/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
      }
      return c.text('Your session has ended: sign in again.', 401);
    }
    c.set('caller', check.caller);
    c.set('session', check.session);
    c.set('csrf', check.csrf);
    await next();
  };
}

/** Every state-changing form: the submitted token must match both the cookie and the session. */
export async function checkCsrf(c: Context<UiEnv>, form: Record<string, unknown>): Promise<boolean> {
  const submitted = form[CSRF_FIELD];
  const cookie = getCookie(c, CSRF_COOKIE);
  const expected = c.get('csrf');
  return typeof submitted === 'string' && !!cookie && timingSafeEqual(submitted, cookie) && timingSafeEqual(submitted, expected);
}
