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
const victim = { tenant: '', key: '', messageId: '', domain: 'victim-owned.test', recipient: 'secret-recipient@victim-mail.test', suppressed: 'suppressed-person@victim-mail.test', warmupId: '', domainId: '', webhookId: '', webhookUrl: 'http://93.184.216.34/victim-hook' };
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

/** The victim's resource for each path parameter, by route path. */
const VICTIM_PARAMS: Record<string, () => Record<string, string>> = {
  '/v1/messages/:id': () => ({ id: victim.messageId }),
  '/v1/suppressions/:address': () => ({ address: victim.suppressed }),
  '/v1/warmups/:id': () => ({ id: victim.warmupId }),
  '/v1/webhooks/:id': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/rotate-secret': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/dead-letters': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/dead-letters/replay': () => ({ id: victim.webhookId }),
  '/v1/webhooks/:id/dead-letters/:delivery_id/replay': () => ({ id: victim.webhookId, delivery_id: 'whd_x' }),
  '/v1/domains/:id': () => ({ id: victim.domainId }),
  '/v1/domains/:id/verify': () => ({ id: victim.domainId }),
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
  for (const [name, scopes] of Object.entries(SCOPE_SETS)) {
    const f = await p.api('POST', '/v1/tenants', { name: `foreign-${name}`, scopes });
    assert.equal(f.status, 201, JSON.stringify(f.body));
    foreign[name] = f.body.api_key;
  }
});
after(() => p.stop());

function victimMarkers(): string[] {
  return [victim.tenant, victim.messageId, victim.domainId, victim.domain, victim.recipient, victim.suppressed, victim.warmupId, victim.webhookId, victim.webhookUrl, '127.0.0.1'].filter(Boolean);
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
    for (const [scope, key] of [...Object.entries(foreign), ['none', '']]) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (key) headers.authorization = `Bearer ${key}`;
      const body = ['GET', 'HEAD', 'DELETE'].includes(route.method) ? undefined : '{}';
      const res = await fetch(new URL(path, p.edge.url), { method: route.method, headers, body });
      const text = await res.text();
      const where = `${route.method} ${path} as ${scope}`;
      if (res.status >= 500) problems.push(`${where}: ${res.status}`);
      if (scope === 'none' && route.path !== '/healthz' && res.status !== 401 && res.status !== 426) problems.push(`${where}: ${res.status} without a key`);
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
    .map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, '{$1}') }))
    .filter((r) => !doc.paths[r.path]?.[r.method])
    .map((r) => `${r.method.toUpperCase()} ${r.path}`);
  assert.deepEqual(missing, []);
});
