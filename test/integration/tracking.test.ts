/**
 * Open and click tracking end to end: a lane whose policy turns it on gets a pixel and rewritten
 * links in what arrives at a real SMTP sink (parsed with mailparser); fetching the pixel records
 * `opened`, following a link redirects (302) to the signed target and records `clicked`; a
 * tampered token is refused and redirects nowhere; a lane without tracking is untouched; an
 * outreach first touch is not tracked, a second touch to the same recipient is.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';

const FROM = 'shop@track.test';
const HTML = '<html><body><p>New in: <a href="https://shop.track.test/new?x=1&amp;y=2">see it</a>, or <a href="mailto:help@track.test">write</a>.</p></body></html>';

describe('open and click tracking', () => {
  let sink: Sink;
  let p: Platform;
  before(async () => {
    sink = await startSink();
    p = await startPlatform({ sinkPort: sink.port });
    await addDomain(p, 'track.test');
    const put = await p.api('PUT', '/v1/policies', {
      lanes: { lifecycle: { tracking: { opens: true, clicks: true } }, outreach: { sendWindow: null, tracking: { opens: true, clicks: true } } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await p.startNode();
  });
  after(async () => {
    await p?.stop();
    await sink?.close();
  });

  async function htmlOf(to: string): Promise<string> {
    const mail = await waitFor(() => sink.mails.find((m) => m.to[0] === to), 30_000, `mail to ${to}`);
    return String((await simpleParser(mail.raw)).html);
  }

  async function storedHtml(id: string): Promise<string> {
    const rs = await p.edge.client.execute({ sql: 'SELECT raw FROM messages WHERE id = ?', args: [id] });
    return String((await simpleParser(String(rs.rows[0].raw))).html);
  }

  const events = async (id: string, type: string) => (await p.api('GET', `/v1/messages/${id}`)).body.events.filter((e: { type: string }) => e.type === type);

  let clickUrl = '';
  let pixelUrl = '';

  test('a tracked lane: pixel and rewritten http(s) links; the pixel records opened, a click redirects to the signed target and records clicked', async () => {
    const sent = await p.api('POST', '/v1/messages', { from: FROM, to: 'buyer@dest.test', subject: 'new in', html: HTML, lane: 'lifecycle' });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const html = await htmlOf('buyer@dest.test');
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(links.length, 2);
    assert.match(links[0], /\/t\/c\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(links[1], 'mailto:help@track.test');
    assert.ok(!html.includes('shop.track.test'), 'the target is only inside the signed token');
    pixelUrl = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)![1];
    clickUrl = links[0];

    assert.equal((await events(sent.body.id, 'opened')).length, 0);
    const pixel = await fetch(pixelUrl, { headers: { 'user-agent': 'TestMail/1.0' } });
    assert.equal(pixel.status, 200);
    assert.equal(pixel.headers.get('content-type'), 'image/gif');
    assert.equal(Buffer.from(await pixel.arrayBuffer()).subarray(0, 6).toString('latin1'), 'GIF89a');
    const opened = await events(sent.body.id, 'opened');
    assert.equal(opened.length, 1);
    assert.deepEqual(opened[0].data, { recipient: 'buyer@dest.test', user_agent: 'TestMail/1.0' });
    assert.ok(opened[0].job_id);

    const click = await fetch(clickUrl, { redirect: 'manual' });
    assert.equal(click.status, 302);
    assert.equal(click.headers.get('location'), 'https://shop.track.test/new?x=1&y=2');
    const clicked = await events(sent.body.id, 'clicked');
    assert.equal(clicked.length, 1);
    assert.equal(clicked[0].data.url, 'https://shop.track.test/new?x=1&y=2');
  });

  test('a tampered or forged token is refused (404) and redirects nowhere', async () => {
    const base = clickUrl.slice(0, clickUrl.lastIndexOf('/') + 1);
    const [payload, mac] = clickUrl.slice(base.length).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const evil = Buffer.from(JSON.stringify({ ...claims, u: 'https://evil.test/phish' })).toString('base64url');
    const openToken = pixelUrl.slice(pixelUrl.lastIndexOf('/') + 1);
    for (const token of [`${evil}.${mac}`, openToken, 'forged.token', `${payload}.${'A'.repeat(43)}`]) {
      const res = await fetch(base + token, { redirect: 'manual' });
      assert.equal(res.status, 404, token);
      assert.equal(res.headers.get('location'), null);
    }
    const clickAsPixel = await fetch(pixelUrl.replace(/[^/]+$/, clickUrl.slice(base.length)));
    assert.equal(clickAsPixel.status, 404);
  });

  test('a lane without tracking is untouched; an outreach first touch is not tracked, the next touch is', async () => {
    const tx = await p.api('POST', '/v1/messages', { from: FROM, to: 'receipt@dest.test', subject: 'receipt', html: HTML });
    assert.equal(tx.status, 202);
    assert.ok(!(await storedHtml(tx.body.id)).includes('/t/'), 'transactional is not tracked by default');

    const first = await p.api('POST', '/v1/messages', { from: FROM, to: 'prospect@dest.test', subject: 'hello', html: HTML, lane: 'outreach' });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const firstHtml = await storedHtml(first.body.id);
    assert.ok(!firstHtml.includes('/t/') && firstHtml.includes('https://shop.track.test/new'), firstHtml);
    await waitFor(async () => (await p.api('GET', `/v1/messages/${first.body.id}`)).body.recipients[0].state === 'delivered', 60_000, 'the first touch delivered');

    const second = await p.api('POST', '/v1/messages', { from: FROM, to: 'prospect@dest.test', subject: 'following up', html: HTML, lane: 'outreach' });
    assert.equal(second.status, 202, JSON.stringify(second.body));
    const secondHtml = await storedHtml(second.body.id);
    assert.match(secondHtml, /\/t\/c\//);
    assert.match(secondHtml, /\/t\/o\//);
  });
});
