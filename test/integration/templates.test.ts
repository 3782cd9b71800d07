/**
 * Stored templates end to end: create, versions kept (PUT makes the next one current, a send may
 * name an earlier one), delete; rendering with Mustache (HTML-escaped in HTML, not in subject and
 * text) checked on what arrives at a real SMTP sink, parsed with mailparser; the plain-text part
 * generated from HTML; missing variables refused naming the variable; a bulk-lane template
 * without {{unsubscribe_url}} refused; the link it renders is the one in List-Unsubscribe.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';
import { htmlToText } from '../../edge/services/html-text.ts';

const FROM = 'hello@tpl.test';

describe('stored templates', () => {
  let sink: Sink;
  let p: Platform;
  before(async () => {
    sink = await startSink();
    p = await startPlatform({ sinkPort: sink.port });
    await addDomain(p, 'tpl.test');
    await p.startNode();
  });
  after(async () => {
    await p?.stop();
    await sink?.close();
  });

  async function received(to: string) {
    const mail = await waitFor(() => sink.mails.find((m) => m.to[0] === to), 30_000, `mail to ${to}`);
    return { raw: mail.raw, parsed: await simpleParser(mail.raw) };
  }

  const newsletter = {
    name: 'weekly',
    subject: 'Hi {{name}}, issue {{issue}}',
    html: '<html><head><style>p{color:red}</style></head><body><h1>Issue {{issue}}</h1><p>Hello {{name}},</p><ul>{{#items}}<li>{{.}}</li>{{/items}}</ul><p><a href="https://tpl.test/read">Read online</a></p><p><a href="{{unsubscribe_url}}">Unsubscribe</a></p></body></html>',
  };

  test('create, render in a lifecycle send: HTML escaped, subject not, text generated from HTML, unsubscribe link is the header one', async () => {
    const created = await p.api('POST', '/v1/templates', newsletter);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.current_version, 1);
    assert.deepEqual(created.body.content.variables.sort(), ['issue', 'items', 'name', 'unsubscribe_url']);

    const variables = { name: 'Tom & <b>Jerry</b>', issue: 7, items: ['one', 'two'] };
    const sent = await p.api('POST', '/v1/messages', { from: FROM, to: 'reader@dest.test', lane: 'lifecycle', template_id: created.body.id, variables });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const { raw, parsed } = await received('reader@dest.test');
    assert.equal(parsed.subject, 'Hi Tom & <b>Jerry</b>, issue 7');
    const html = String(parsed.html);
    assert.ok(html.includes('Hello Tom &amp; &lt;b&gt;Jerry&lt;&#x2F;b&gt;,'), html);
    assert.ok(!html.includes('<b>Jerry</b>'));
    const text = String(parsed.text);
    assert.ok(text.includes('Hello Tom & <b>Jerry</b>,'), text);
    assert.ok(text.includes('- one\n- two'), text);
    assert.ok(text.includes('Read online (https://tpl.test/read)'), text);
    assert.ok(!text.includes('color:red'), text);
    const header = /^List-Unsubscribe:\s*<([^>]+)>/im.exec(raw)![1];
    const href = /<a href="([^"]+)">Unsubscribe<\/a>/.exec(html)![1].replace(/&#x2F;/g, '/').replace(/&#x3D;/g, '=');
    assert.ok(header.length > 0 && href === header, `${href} vs ${header}`);
  });

  test('versions are kept: PUT makes version 2 current, template_version 1 still renders the first', async () => {
    const t = await p.api('POST', '/v1/templates', { name: 'receipt', subject: 'Receipt {{number}}', text: 'Total: {{total}}' });
    assert.equal(t.status, 201);
    const v2 = await p.api('PUT', `/v1/templates/${t.body.id}`, { subject: 'Your receipt {{number}}', text: 'You paid {{total}}', name: 'receipt-v2' });
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    assert.equal(v2.body.current_version, 2);
    assert.equal(v2.body.name, 'receipt-v2');
    assert.deepEqual(v2.body.versions.map((v: { version: number }) => v.version), [1, 2]);
    const first = await p.api('GET', `/v1/templates/${t.body.id}?version=1`);
    assert.equal(first.body.content.subject, 'Receipt {{number}}');
    const missingVersion = await p.api('GET', `/v1/templates/${t.body.id}?version=9`);
    assert.equal(missingVersion.status, 404);
    const list = await p.api('GET', '/v1/templates');
    assert.ok(list.body.data.some((x: { id: string }) => x.id === t.body.id));

    await p.api('POST', '/v1/messages/batch', {
      messages: [
        { from: FROM, to: 'v2@dest.test', template_id: t.body.id, variables: { number: 'A-1', total: '$5 <tax incl.>' } },
        { from: FROM, to: 'v1@dest.test', template_id: t.body.id, template_version: 1, variables: { number: 'A-2', total: '$6' } },
      ],
    });
    const v2mail = await received('v2@dest.test');
    assert.equal(v2mail.parsed.subject, 'Your receipt A-1');
    // Text is not HTML: no escaping.
    assert.equal(String(v2mail.parsed.text).trim(), 'You paid $5 <tax incl.>');
    assert.equal(v2mail.parsed.html, false);
    const v1mail = await received('v1@dest.test');
    assert.equal(v1mail.parsed.subject, 'Receipt A-2');
    // Transactional mail: no unsubscribe header.
    assert.equal(v1mail.parsed.headers.has('list-unsubscribe'), false);

    const del = await p.api('DELETE', `/v1/templates/${t.body.id}`);
    assert.equal(del.status, 200);
    assert.equal((await p.api('GET', `/v1/templates/${t.body.id}`)).status, 404);
    const gone = await p.api('POST', '/v1/messages', { from: FROM, to: 'x@dest.test', template_id: t.body.id, variables: { number: 1, total: 2 } });
    assert.equal(gone.status, 400);
    assert.equal(gone.body.error.field, 'template_id');
  });

  test('refused at send: a missing variable by name, a bulk template without {{unsubscribe_url}}, template_id with subject, a header injected through a variable', async () => {
    const t = await p.api('POST', '/v1/templates', { name: 'plain', subject: 'Hello {{user.first}}', html: '<p>Hi {{user.first}}, your code is {{code}}</p>' });
    assert.equal(t.status, 201);
    const missing = await p.api('POST', '/v1/messages', { from: FROM, to: 'a@dest.test', template_id: t.body.id, variables: { user: { first: 'Ann' } } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, 'variables.code');
    assert.match(missing.body.error.message, /missing variable code/);
    const nested = await p.api('POST', '/v1/messages/batch', { messages: [{ from: FROM, to: 'a@dest.test', template_id: t.body.id, variables: { code: 1 } }] });
    assert.equal(nested.status, 400);
    assert.equal(nested.body.error.field, 'messages[0].variables.user.first');

    const bulk = await p.api('POST', '/v1/messages', { from: FROM, to: 'a@dest.test', lane: 'outreach', template_id: t.body.id, variables: { user: { first: 'Ann' }, code: 1 } });
    assert.equal(bulk.status, 400);
    assert.equal(bulk.body.error.field, 'template_id');
    assert.match(bulk.body.error.message, /unsubscribe_url/);

    const both = await p.api('POST', '/v1/messages', { from: FROM, to: 'a@dest.test', subject: 'x', template_id: t.body.id, variables: {} });
    assert.equal(both.status, 400);
    assert.equal(both.body.error.field, 'subject');

    const injected = await p.api('POST', '/v1/messages', { from: FROM, to: 'a@dest.test', template_id: t.body.id, variables: { user: { first: 'Ann\r\nBcc: victim@dest.test' }, code: 1 } });
    assert.equal(injected.status, 400);
    assert.equal(injected.body.error.field, 'subject');

    const unsubInTransactional = await p.api('POST', '/v1/templates', { name: 'u', subject: 's', html: '<a href="{{unsubscribe_url}}">u</a>' });
    const tx = await p.api('POST', '/v1/messages', { from: FROM, to: 'a@dest.test', template_id: unsubInTransactional.body.id });
    assert.equal(tx.status, 400);
    assert.equal(tx.body.error.field, 'variables.unsubscribe_url');
  });

  test('refused at create: bad Mustache, partials, no body', async () => {
    const bad = await p.api('POST', '/v1/templates', { name: 'x', subject: 's', html: '<p>{{#open}}never closed</p>' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'html');
    const partial = await p.api('POST', '/v1/templates', { name: 'x', subject: 's', text: '{{> footer}}' });
    assert.equal(partial.status, 400);
    assert.equal(partial.body.error.field, 'text');
    const empty = await p.api('POST', '/v1/templates', { name: 'x', subject: 's' });
    assert.equal(empty.status, 400);
    const unknown = await p.api('PUT', '/v1/templates/tpl_nope', { subject: 's', text: 't' });
    assert.equal(unknown.status, 404);
  });

  test('HTML to text: blocks, breaks, links, entities, hidden parts', () => {
    assert.equal(htmlToText('<p>a&nbsp;&amp;&#233;&#x2014;</p><p>b<br>c</p>'), 'a &é—\n\nb\nc');
    assert.equal(htmlToText('<!-- hidden --><script>x()</script><div>Go <a href="https://e.test/x">here</a> or <a href="https://e.test/y">https://e.test/y</a></div>'), 'Go here (https://e.test/x) or https://e.test/y');
    assert.equal(htmlToText('<table><tr><td>Item</td><td>$5</td></tr></table><img src="x" alt="Logo">'), 'Item $5\nLogo');
  });
});
