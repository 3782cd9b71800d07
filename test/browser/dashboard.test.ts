/**
 * The dashboard in a real headless Chromium (Debian's, test/helpers/chromium.ts) driven by
 * playwright-core, against the real platform: the edge on Node, an MTA node delivering to the
 * provider simulator, where Gmail throttles (421 4.7.28) past a few messages per minute.
 * Sign-in and sign-out, the Providers page watching deferrals rise and the adaptive rate cut
 * without a reload, a message's trace, another tenant's message refused (404), a form without its
 * CSRF token refused (403), a read key refused every change (403), a revoked key's session ended,
 * 10,000 suppressions paged, and every page at laptop and phone widths. Each page's screenshot
 * is written to test-output/screenshots/ (README: "The dashboard").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureChromium } from '../helpers/chromium.ts';
import { startSimulated, blast, FROM } from '../helpers/simulated.ts';
import type { Platform } from '../helpers/platform.ts';
import type { ProviderSimulator } from '../simulator/provider-sim.ts';
import { aimdConfig } from '../../shared/policy/aimd.ts';
import { loadShapingPolicy } from '../../shared/policy/providers.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const PAGES = ['/ui', '/ui/providers', '/ui/pools', '/ui/domains', '/ui/messages', '/ui/dead-letters', '/ui/webhooks', '/ui/suppressions'];
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

describe('the dashboard in a real browser', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  let browser: Browser;
  let operator: BrowserContext;
  let op: Page;
  const acme = { tenant: '', key: '', keyId: '' };
  let gmailIds: string[] = [];

  const url = (path: string) => new URL(path, p.edge.url).toString();
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  async function signIn(context: BrowserContext, key: string, path = '/ui'): Promise<Page> {
    const page = await context.newPage();
    await page.goto(url(path));
    assert.match(new URL(page.url()).pathname, /^\/ui\/login$/, 'a page without a session sends the browser to the sign-in form');
    await page.getByLabel('API key').fill(key);
    await Promise.all([page.waitForURL((u) => u.pathname === path), page.getByRole('button', { name: 'Sign in' }).click()]);
    return page;
  }

  /** The CSRF token a page's forms carry (every page has the sign-out form). */
  const csrfOf = (page: Page) => page.locator('form[action="/ui/logout"] input[name="_csrf"]').inputValue();

  before(async () => {
    const executablePath = await ensureChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
    ({ sim, p } = await startSimulated({
      // Gmail lets 10 messages a minute through per source IP; the table would send far more.
      sim: { gmail: { ratePerWindow: 10, windowMs: 60_000 } },
      shaper: {
        policy: loadShapingPolicy({ providers: { gmail: { shaping: { ratePerIp: '600/min', ratePerPool: '600/min' } } } }),
        aimd: aimdConfig({ floor: '6/min', ceiling: '600/min', start: '600/min', decreaseFactor: 0.5, increase: '6/min', acceptsPerIncrease: 20, increaseInterval: '1m', decreaseHoldoff: '1s' }),
      },
    }));
    const t = await p.api('POST', '/v1/tenants', { name: 'acme', scopes: ['read'] });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    acme.tenant = t.body.id;
    acme.key = t.body.api_key;
    acme.keyId = (await p.edge.store.listApiKeys(acme.tenant))[0].id;
    browser = await chromium.launch({ executablePath });
    operator = await browser.newContext({ viewport: LAPTOP });
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
    await sim?.stop();
  });

  test('signing in with the operator key opens the platform view in an HttpOnly, SameSite=Strict session', async () => {
    op = await signIn(operator, p.edge.apiKey);
    await assert.doesNotReject(op.getByRole('heading', { name: 'Overview', level: 1 }).waitFor());
    assert.ok(await op.getByText('Platform view').isVisible());
    const session = (await operator.cookies()).find((c) => c.name === 'pl_session')!;
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.secure, false, 'Secure only over https; the test server is http on loopback');
    assert.ok(session.expires > 0 && session.expires * 1000 <= Date.now() + 3600_000 + 60_000, 'short-lived: an hour');
    // Charts and styles come from this server only, fingerprinted and cached for good.
    const assets = await op.evaluate(() => [...document.querySelectorAll('link[rel=stylesheet], script[src]')].map((e) => e.getAttribute('href') ?? e.getAttribute('src')));
    assert.equal(assets.length, 4);
    for (const asset of assets) {
      assert.match(asset!, /^\/ui\/assets\/[a-z]+\.[0-9a-f]{12}\.(js|css)$/);
      const res = await op.request.get(url(asset!));
      assert.equal(res.status(), 200);
      assert.equal(res.headers()['cache-control'], 'public, max-age=31536000, immutable');
    }
    assert.equal(await op.evaluate(() => typeof (window as unknown as { uPlot?: unknown }).uPlot), 'function', 'uPlot loaded from the fingerprinted asset');
  });

  test('the Providers page shows Gmail\'s deferrals rise and its adaptive rate cut, refreshing without a reload', async () => {
    await op.goto(url('/ui/providers'));
    let navigations = 0;
    op.on('framenavigated', (frame) => frame === op.mainFrame() && navigations++);
    const ids = await blast(p, 80, (i) => ({ to: i % 4 === 3 ? `o${i}@other.test` : `g${i}@gmail.com`, lane: 'lifecycle' }));
    gmailIds = ids.filter((_, i) => i % 4 !== 3);
    const deferred = () => op.locator('tr[data-provider="gmail"] td[data-deferred]').getAttribute('data-deferred').then(Number);
    // No time bound: the page polls every 3 s and the figures come when the retries do.
    await op.waitForFunction(() => Number(document.querySelector('tr[data-provider="gmail"] td[data-deferred]')?.getAttribute('data-deferred')) > 0, null, { timeout: 0 });
    const first = await deferred();
    await op.waitForFunction((n) => Number(document.querySelector('tr[data-provider="gmail"] td[data-deferred]')?.getAttribute('data-deferred')) > n, first, { timeout: 0 });
    assert.ok((await deferred()) > first, 'the deferral count rose on the open page');
    // AIMD cut the (gmail, default) rate below its ceiling.
    await op.locator('tr[data-rate="gmail|default"]').waitFor({ timeout: 0 });
    const rate = await op.locator('tr[data-rate="gmail|default"] td').nth(4).innerText();
    assert.ok(Number.parseFloat(rate) < 600, `the adaptive rate is ${rate}, below the 600/min ceiling`);
    assert.match(await op.locator('tr[data-provider="gmail"]').innerText(), /rate_limit|ip_reputation|throttl|\d/);
    assert.ok(await op.locator('#live').getAttribute('data-refreshed'), 'the live section was refreshed in place');
    assert.equal(navigations, 0, 'the figures changed without a page load');
    // Other receivers are not held back by Gmail's throttle.
    await op.locator('tr[data-provider="other"]').waitFor({ timeout: 0 });
    await op.locator('[data-chart] canvas').first().waitFor({ timeout: 0 });
    await shot(op, 'providers');
  });

  test('a message\'s trace: accepted, leased, then the attempts with MX, IP and reply', async () => {
    await op.goto(url('/ui/messages'));
    await shot(op, 'messages');
    const id = gmailIds[gmailIds.length - 1];
    await op.getByLabel('Message id').fill(id);
    await Promise.all([op.waitForURL((u) => u.pathname === `/ui/messages/${id}`), op.getByRole('button', { name: 'Open trace' }).click()]);
    // The attempts come as the node reports them; reload until one is in the trace.
    for (;;) {
      const steps = await op.locator('ol.timeline .what').allInnerTexts();
      if (steps.some((s) => s === 'deferred' || s === 'delivered')) break;
      await new Promise((r) => setTimeout(r, 500));
      await op.reload();
    }
    const steps = await op.locator('ol.timeline .what').allInnerTexts();
    assert.equal(steps[0], 'accepted');
    assert.ok(steps.indexOf('leased') > 0 && steps.indexOf('leased') < steps.findIndex((s) => s === 'deferred' || s === 'delivered'), `in order: ${steps.join(' → ')}`);
    const attempt = op.locator('ol.timeline li', { has: op.locator('.what', { hasText: /^(deferred|delivered)$/ }) }).first();
    const facts = await attempt.locator('dt').allInnerTexts();
    for (const fact of ['mx', 'ip', 'reply']) assert.ok(facts.includes(fact), `the attempt shows ${fact}: ${facts.join(', ')}`);
    await shot(op, 'message-trace');
  });

  test('another tenant\'s message is not found, and its list shows none of the operator\'s mail', async () => {
    const context = await browser.newContext({ viewport: LAPTOP });
    try {
      const page = await signIn(context, acme.key);
      assert.ok(await page.getByText(`Tenant ${acme.tenant}`).isVisible());
      const res = await page.goto(url(`/ui/messages/${gmailIds[0]}`));
      assert.equal(res!.status(), 404);
      assert.ok(await page.getByRole('heading', { name: 'Not found' }).isVisible());
      await page.goto(url('/ui/messages'));
      assert.equal(await page.locator(`a[href="/ui/messages/${gmailIds[0]}"]`).count(), 0);
      assert.ok(!(await page.content()).includes(FROM));
    } finally {
      await context.close();
    }
  });

  test('a form posted without its CSRF token is refused (403); with it, suppressions are added and removed', async () => {
    await op.goto(url('/ui/suppressions'));
    const address = 'csrf-probe@example.net';
    const bare = await op.request.post(url('/ui/suppressions'), { form: { address, reason: 'manual' } });
    assert.equal(bare.status(), 403);
    const forged = await op.request.post(url('/ui/suppressions'), { form: { address, reason: 'manual', _csrf: 'x'.repeat(43) } });
    assert.equal(forged.status(), 403);
    const logout = await op.request.post(url('/ui/logout'), { form: {} });
    assert.equal(logout.status(), 403, 'signing out is a form too');
    assert.equal((await p.edge.store.findSuppressions('default', [address])).length, 0, 'nothing was added');
    // The page's own form carries the token.
    await op.getByLabel('Address to suppress').fill(address);
    await Promise.all([op.waitForURL((u) => u.searchParams.get('done') === 'added'), op.getByRole('button', { name: 'Add' }).click()]);
    assert.equal((await p.edge.store.findSuppressions('default', [address])).length, 1);
    assert.ok(await op.getByRole('cell', { name: address, exact: true }).isVisible());
    await shot(op, 'suppressions');
    op.once('dialog', (dialog) => dialog.accept());
    await Promise.all([op.waitForURL((u) => u.searchParams.get('done') === 'removed'), op.getByRole('button', { name: `Remove ${address}` }).click()]);
    assert.equal((await p.edge.store.findSuppressions('default', [address])).length, 0);
  });

  test('a read key sees the pages but every change is refused (403)', async () => {
    const context = await browser.newContext({ viewport: LAPTOP });
    try {
      const page = await signIn(context, acme.key, '/ui/suppressions');
      assert.ok((await page.locator('main').innerText()).includes('This key can read the list but not change it.'));
      assert.equal(await page.locator('form[action="/ui/suppressions"][method="post"]').count(), 0, 'no add form for a read key');
      const _csrf = await csrfOf(page);
      for (const [path, form] of [
        ['/ui/suppressions', { address: 'read-key@example.net' }],
        ['/ui/suppressions/remove', { address: 'read-key@example.net' }],
        ['/ui/dead-letters/replay', { job: 'job_00000000000000000000000000' }],
        ['/ui/webhooks/replay', { endpoint: 'whk_x' }],
      ] as const) {
        const res = await page.request.post(url(path), { form: { ...form, _csrf } });
        assert.equal(res.status(), 403, `${path} with a read key`);
      }
      assert.equal((await p.edge.store.findSuppressions(acme.tenant, ['read-key@example.net'])).length, 0);
      // Revoking the key ends its session on the next request.
      await p.edge.store.revokeApiKey(acme.tenant, acme.keyId, Date.now());
      await page.goto(url('/ui/suppressions'));
      assert.equal(new URL(page.url()).pathname, '/ui/login', 'a revoked key has no session');
    } finally {
      await context.close();
    }
  });

  test('10,000 suppressions are paged, not listed at once', async () => {
    const now = Date.now();
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ tenantId: 'default', address: `bulk${String(i).padStart(5, '0')}@example.org`, reason: 'manual' as const, source: 'bulk test', messageId: null, jobId: null, createdAt: now }));
    for (let i = 0; i < rows.length; i += 1000) await p.edge.store.addSuppressions(rows.slice(i, i + 1000));
    await op.goto(url('/ui/suppressions'));
    assert.equal(await op.locator('tbody tr').count(), 100);
    const firstPage = await op.locator('tbody tr td:first-child').allInnerTexts();
    await op.getByRole('link', { name: 'Next page' }).click();
    await op.waitForURL((u) => u.searchParams.has('cursor'));
    const second = await op.locator('tbody tr td:first-child').allInnerTexts();
    assert.equal(second.length, 100);
    assert.equal(second.filter((a) => firstPage.includes(a)).length, 0, 'the next page has other rows');
    await op.getByLabel('Address contains').fill('bulk0999');
    await Promise.all([op.waitForURL((u) => u.searchParams.get('contains') === 'bulk0999'), op.getByRole('button', { name: 'Search' }).click()]);
    assert.equal(await op.locator('tbody tr').count(), 10);
  });

  test('every page fits a laptop and a phone, labels every field, and is screenshotted', async () => {
    for (const [name, viewport] of [['laptop', LAPTOP], ['phone', PHONE]] as const) {
      await op.setViewportSize(viewport);
      for (const path of PAGES) {
        const res = await op.goto(url(path));
        assert.equal(res!.status(), 200, path);
        const layout = await op.evaluate(() => ({
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select')].filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label')).length,
          h1: document.querySelectorAll('h1').length,
        }));
        assert.ok(layout.overflow <= 0, `${path} at ${name} width is ${layout.overflow}px wider than the screen`);
        assert.equal(layout.unlabelled, 0, `${path}: every field has a label`);
        assert.equal(layout.h1, 1, `${path}: one page heading`);
        const file = path === '/ui' ? 'overview' : path.slice('/ui/'.length);
        await shot(op, name === 'laptop' ? file : `${file}-phone`);
      }
    }
    await op.setViewportSize(LAPTOP);
    // Keyboard: the skip link is the first stop and leads to the content.
    await op.goto(url('/ui'));
    await op.keyboard.press('Tab');
    assert.equal(await op.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  });

  test('signing out ends the session', async () => {
    await op.goto(url('/ui'));
    await Promise.all([op.waitForURL((u) => u.pathname === '/ui/login'), op.getByRole('button', { name: 'Sign out' }).click()]);
    assert.equal((await operator.cookies()).filter((c) => c.name === 'pl_session').length, 0);
    await op.goto(url('/ui/providers'));
    assert.equal(new URL(op.url()).pathname, '/ui/login');
    await shot(op, 'sign-in');
  });
});
