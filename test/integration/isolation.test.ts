/**
 * The tenant isolation matrix (SPEC §3), by construction: every route the app's router holds is
 * called with a foreign tenant's key in each scope, and with no key. A route that names a
 * resource answers 401/403/404 for the victim's; no answer carries any of the victim's data.
 * A new route is walked by itself; a new route with a path parameter fails here until the
 * victim's resource for it is added to VICTIM_PARAMS. Also: OpenAPI documents every route.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../edge/app.ts';
import { startPlatform, waitFor, type Platform } from '../helpers/platform.ts';

let p: Platform;
const victim = { tenant: '', key: '', messageId: '', templateId: '', domain: 'victim-owned.test', recipient: 'secret-recipient@victim-mail.test', suppressed: 'suppressed-person@victim-mail.test', warmupId: '', holdId: '', domainId: '', webhookId: '', webhookUrl: 'http://93.184.216.34/victim-hook' , keyId: '', configVersionId: '', nodeTokenId: '' };
/** A foreign tenant per scope set: a key in each scope a tenant can hold. */
const foreign: Record<string, string> = {};
const SCOPE_SETS: Record<string, string[]> = { admin: ['admin', 'send', 'read'], send: ['send'], read: ['read'], feedback: ['feedback'] };

/** Routes as the router holds them (method, Hono path), OpenAPI's own document left out. */
function routerRoutes(): Array<{ method: string; path: string }> {
  const app = createApp({ config: { maxMessageBytes: 1024 } } as never);
  const seen = new Set<string>();
  return app.routes
    .filter((r) => r.method !== 'ALL' && r.path !== '/openapi.json')
    .filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`))
    .map((r) => ({ method: r.method, path: r.path }));
}

/** Routes that take no key: health, and the links in mail whose signed token is the credential. */
const PUBLIC_ROUTES = new Set(['/healthz', '/u/:token', '/t/o/:token', '/t/c/:token']);

/**
 * The dashboard (edge/routes/ui*.ts): HTML pages under /ui, signed in with a session cookie, not a
 * Bearer key. Each is walked with a session of each foreign key that can sign in (POSTs carry that
 * session's CSRF token, so the handler itself runs); with no session a page answers 401 or sends
 * the browser to /ui/login (303). Only the sign-in form and the fingerprinted assets take none.
 */
const isUi = (path: string) => path === '/ui' || path.startsWith('/ui/');
const UI_PUBLIC = new Set(['GET /ui/login', 'POST /ui/login', 'GET /ui/assets/:file']);
const uiSessions = new Map<string, Promise<{ cookie: string; csrf: string } | null>>();
/** Signs in through the form as a browser does; null when the key may not (no read scope). */
function uiSession(key: string) {
  let session = uiSessions.get(key);
  if (!session) {
    session = (async () => {
      const form = await fetch(new URL('/ui/login', p.edge.url));
      const nonce = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
      const res = await fetch(new URL('/ui/login', p.edge.url), {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: form.headers.getSetCookie()[0].split(';')[0], 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: nonce, api_key: key }),
      });
      if (res.status !== 303) return null;
      const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]).filter((c) => !c.endsWith('='));
      return { cookie: cookies.join('; '), csrf: cookies.find((c) => c.startsWith('pl_csrf='))!.slice('pl_csrf='.length) };
    })();
    uiSessions.set(key, session);
  }
  return session;
}

/** The victim's resource for each path parameter, by route path. */
const VICTIM_PARAMS: Record<string, () => Record<string, string>> = {
  '/v1/messages/:id': () => ({ id: victim.messageId }),
  '/v1/messages/:id/cancel': () => ({ id: victim.messageId }),
  // The Resend-compatible API (edge/routes/resend/).
  '/emails/:id': () => ({ id: victim.messageId }),
  '/emails/:id/cancel': () => ({ id: victim.messageId }),
  '/domains/:id': () => ({ id: victim.domainId }),
  '/domains/:id/verify': () => ({ id: victim.domainId }),
  '/v1/suppressions/:address': () => ({ address: victim.suppressed }),
  '/v1/warmups/:id': () => ({ id: victim.warmupId }),
  '/v1/webhooks/:id': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/rotate-secret': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/dead-letters': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/dead-letters/replay': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/dead-letters/:delivery_id/replay': () => ({ id: victim.webhookId, delivery_id: 'whd_x' }),
  '/v1/domains/:id': () => ({ id: victim.domainId }),
  '/v1/domains/:id/verify': () => ({ id: victim.domainId }),
  '/ui/messages/:id': () => ({ id: victim.messageId }),
  // Assets are the same for everyone; an unknown name is a 404.
  '/ui/assets/:file': () => ({ file: 'victim.css' }),
  '/v1/templates/:id': () => ({ id: victim.templateId }),
  // Keys, pools, IPs, node tokens, configuration versions (operator control).
  '/v1/keys/:id': () => ({ id: victim.keyId }),
  '/v1/keys/:id/rotate': () => ({ id: victim.keyId }),
  '/v1/config/versions/:id': () => ({ id: victim.configVersionId }),
  '/v1/nodes/tokens/:id': () => ({ id: victim.nodeTokenId }),
  '/v1/nodes/tokens/:id/rotate': () => ({ id: victim.nodeTokenId }),
  '/v1/pools/:name': () => ({ name: 'default' }),
  '/v1/ips/:address': () => ({ address: '127.0.0.1' }),
  '/v1/ips/:address/retire': () => ({ address: '127.0.0.1' }),
  '/v1/holds/:id/approve': () => ({ id: victim.holdId }),
  '/v1/holds/:id/reject': () => ({ id: victim.holdId }),
  // Public routes: the signed token is the credential, so a token no one signed must be a 404.
  '/u/:token': () => ({ token: 'forged.token' }),
  '/t/o/:token': () => ({ token: 'forged.token' }),
  '/t/c/:token': () => ({ token: 'forged.token' }),
};

before(async () => {
  p = await startPlatform();
  const t = await p.api('POST', '/v1/tenants', { name: 'victim' });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  victim.tenant = t.body.id;
  victim.key = t.body.api_key;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const dom = await p.api('POST', '/v1/domains', { domain: victim.domain }, as(victim.key));
  assert.equal(dom.status, 201);
  victim.domainId = dom.body.id;
  const sent = await p.api('POST', '/v1/messages', { from: `hello@${victim.domain}`, to: victim.recipient, subject: 'private', text: 'private' }, as(victim.key));
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  victim.messageId = sent.body.id;
  // The API adds one address per request (CreateSuppressionSchema: `address`, strict).
  const sup = await p.api('POST', '/v1/suppressions', { address: victim.suppressed }, as(victim.key));
  assert.ok(sup.status < 300, JSON.stringify(sup.body));
  // A warm-up of the shared pool, started by the operator: platform state, not a tenant's.
  const w = await p.api('POST', '/v1/warmups', { pool: 'default' });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  victim.warmupId = w.body.id;
  // A webhook endpoint (disabled: nothing is sent to the public address it names).
  const wh = await p.api('POST', '/v1/webhooks', { url: victim.webhookUrl, event_types: ['delivered'], enabled: false }, as(victim.key));
  assert.equal(wh.status, 201, JSON.stringify(wh.body));
  victim.webhookId = wh.body.id;
  const tpl = await p.api('POST', '/v1/templates', { name: 'victim-template', subject: 'private {{name}}', text: 'private' }, as(victim.key));
  assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
  victim.templateId = tpl.body.id;
  // A rogue-batch hold of the victim's (opened through the store: the burst itself is beside the point here).
  const hold = await p.edge.store.openHold({
    id: 'hold_victim1', tenantId: victim.tenant, scope: 'domain', key: victim.domain, status: 'pending', reason: 'victim burst',
    volume: 5000, threshold: 1000, trailingP95: 10, createdAt: Date.now(), decidedAt: null, decidedBy: null, decisionReason: null,
  });
  victim.holdId = hold.id;
  victim.keyId = (await p.api('GET', '/v1/keys', undefined, as(victim.key))).body.data[0].id;
  const plan = await p.api('POST', '/v1/config/plan', { version: 1, lanes: { transactional: { pools: ['default'] } } }, as(victim.key));
  assert.equal(plan.status, 201, JSON.stringify(plan.body));
  const applied = await p.api('POST', '/v1/config/apply', { plan_id: plan.body.id }, as(victim.key));
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  victim.configVersionId = applied.body.version.id;
  victim.nodeTokenId = (await p.api('GET', '/v1/nodes/tokens')).body.data[0].id;
  assert.equal((await p.api('PUT', '/v1/ips/127.0.0.1', { pool: 'default' })).status, 201);
  for (const [name, scopes] of Object.entries(SCOPE_SETS)) {
    const f = await p.api('POST', '/v1/tenants', { name: `foreign-${name}`, scopes });
    assert.equal(f.status, 201, JSON.stringify(f.body));
    foreign[name] = f.body.api_key;
  }
});
after(() => p.stop());

function victimMarkers(): string[] {
  return [victim.tenant, victim.messageId, victim.domainId, victim.domain, victim.recipient, victim.suppressed, victim.warmupId, victim.holdId, victim.webhookId, victim.templateId, victim.webhookUrl, '127.0.0.1'].filter(Boolean);
}

test('every route, called by a foreign tenant in each scope and without a key, shows none of the victim\'s data', async () => {
  const routes = routerRoutes();
  assert.ok(routes.length >= 20, `the router lists ${routes.length} routes`);
  const problems: string[] = [];
  for (const route of routes) {
    const hasParams = route.path.includes(':');
    const params = VICTIM_PARAMS[route.path];
    if (hasParams && !params) {
      problems.push(`${route.method} ${route.path}: no victim resource in VICTIM_PARAMS`);
      continue;
    }
    const values = params?.() ?? {};
    const path = route.path.replace(/:(\w+)/g, (_, name) => encodeURIComponent(values[name] ?? 'x'));
    const ui = isUi(route.path);
    for (const [scope, key] of [...Object.entries(foreign), ['none', '']]) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (key) headers.authorization = `Bearer ${key}`;
      let body = ['GET', 'HEAD', 'DELETE'].includes(route.method) ? undefined : '{}';
      const session = ui && key ? await uiSession(key) : null;
      if (ui) {
        delete headers.authorization;
        if (session) headers.cookie = session.cookie;
        if (body !== undefined) {
          headers['content-type'] = 'application/x-www-form-urlencoded';
          body = new URLSearchParams({ _csrf: session?.csrf ?? '' }).toString();
        }
      }
      const res = await fetch(new URL(path, p.edge.url), { method: route.method, headers, body, redirect: ui ? 'manual' : 'follow' });
      const text = await res.text();
      const where = `${route.method} ${path} as ${scope}`;
      if (res.status >= 500) problems.push(`${where}: ${res.status}`);
      if (ui) {
        // The exclusion from the OpenAPI check below holds only while /ui serves no JSON.
        if ((res.headers.get('content-type') ?? '').includes('json')) problems.push(`${where}: a dashboard route answered JSON`);
        const refused = res.status === 401 || (res.status === 303 && (res.headers.get('location') ?? '').startsWith('/ui/login'));
        if (!session && !UI_PUBLIC.has(`${route.method} ${route.path}`) && !refused) problems.push(`${where}: ${res.status} without a session`);
        if (hasParams && !refused && ![403, 404].includes(res.status)) problems.push(`${where}: ${res.status} for the victim's resource`);
        // As below: a 404 naming the id the caller asked for tells it nothing.
        const askedUi = new Set(Object.values(values));
        for (const marker of victimMarkers()) if (!askedUi.has(marker) && text.includes(marker)) problems.push(`${where}: shows ${marker}`);
        continue;
      }
      if (scope === 'none' && !PUBLIC_ROUTES.has(route.path) && res.status !== 401 && res.status !== 426) problems.push(`${where}: ${res.status} without a key`);
      if (hasParams && ![401, 403, 404].includes(res.status)) problems.push(`${where}: ${res.status} for the victim's resource`);
      // A 404 may name what the caller asked for ("no message msg_…"): echoing the caller's own
      // path parameter tells it nothing, so those values are not markers for that request.
      const asked = new Set(Object.values(values));
      for (const marker of victimMarkers()) if (!asked.has(marker) && text.includes(marker)) problems.push(`${where}: shows ${marker}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('nodes, their IPs and /metrics are the operator\'s', async () => {
  const node = await p.startNode({ ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'mta.test' }] });
  try {
    const ops = await waitFor(async () => {
      const r = await p.api('GET', '/v1/nodes');
      return r.status === 200 && r.body.data.length > 0 && r;
    }, 10_000, 'the node to connect');
    assert.ok(JSON.stringify(ops.body).includes('127.0.0.1'), 'the operator sees the nodes\' IPs');
    const other = await p.api('GET', '/v1/nodes', undefined, { authorization: `Bearer ${foreign.admin}` });
    assert.equal(other.status, 403);
    assert.ok(!JSON.stringify(other.body).includes('127.0.0.1'));
    assert.equal((await fetch(new URL('/metrics', p.edge.url), { headers: { authorization: `Bearer ${foreign.admin}` } })).status, 403);
  } finally {
    await node.stop();
  }
});

test('the OpenAPI document describes every route of the router', async () => {
  const doc = (await p.api('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
  const missing = routerRoutes()
    // The dashboard's HTML pages are for browsers, not the JSON API the document describes; the
    // walk above checks that no /ui route answers JSON, so nothing of the API hides there.
    .filter((r) => !isUi(r.path))
    .map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, '{$1}') }))
    .filter((r) => !doc.paths[r.path]?.[r.method])
    .map((r) => `${r.method.toUpperCase()} ${r.path}`);
  assert.deepEqual(missing, []);
});
