import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v from 'valibot';
import {
  DEFAULT_SHAPING_POLICY,
  ShapingOverridesSchema,
  PolicyValidationError,
  automationFor,
  loadShapingPolicy,
  providerFor,
  shapingFor,
  triggerFires,
} from '../../../shared/policy/providers.ts';

test('providerFor: recipient domain first, then MX suffix, else other', () => {
  const table: Array<[string, string | undefined, string]> = [
    ['gmail.com', undefined, 'gmail'],
    ['GoogleMail.com.', undefined, 'gmail'],
    ['alice@gmail.com', undefined, 'gmail'],
    ['acme.io', 'aspmx.l.google.com', 'gmail'], // Google Workspace custom domain
    ['acme.io', 'alt1.gmail-smtp-in.l.google.com.', 'gmail'],
    ['outlook.com', undefined, 'microsoft'],
    ['hotmail.co.uk', undefined, 'microsoft'],
    ['hotmail.fr', undefined, 'microsoft'],
    ['live.com', undefined, 'microsoft'],
    ['msn.com', undefined, 'microsoft'],
    ['contoso.com', 'contoso-com.mail.protection.outlook.com', 'microsoft'],
    ['yahoo.com', undefined, 'yahoo'],
    ['yahoo.co.jp', undefined, 'yahoo'],
    ['aol.com', undefined, 'yahoo'],
    ['ymail.com', undefined, 'yahoo'],
    ['verizon.net', 'mx-aol.mail.gm0.yahoodns.net', 'yahoo'],
    ['icloud.com', undefined, 'apple'],
    ['me.com', undefined, 'apple'],
    ['comcast.net', undefined, 'comcast'],
    ['web.de', undefined, 'gmx'],
    ['gmx.de', undefined, 'gmx'],
    ['orange.fr', undefined, 'orange'],
    ['bk.ru', undefined, 'mailru'],
    ['ya.ru', undefined, 'yandex'],
    ['foxmail.com', undefined, 'qq'],
    ['zohomail.com', undefined, 'zoho'],
    ['pm.me', undefined, 'proton'],
    ['example.org', 'in1-smtp.messagingengine.com', 'fastmail'],
    ['example.org', 'mx.example.org', 'other'],
    ['example.org', undefined, 'other'],
    ['hotmailer.com', undefined, 'other'],
    ['live.example.com', undefined, 'other'], // a subdomain of someone else's zone
    ['yahoo.com.br', undefined, 'yahoo'], // "hotmail.*" is a label prefix, not a string prefix
    ['google.com.evil.io', 'mx.google.com.evil.io', 'other'],
  ];
  for (const [domain, mx, expected] of table) assert.equal(providerFor(domain, mx), expected, `${domain} / ${mx}`);
});

test('the shipped table passes its own schema and every rule cites a source', () => {
  const asOverrides = { default: DEFAULT_SHAPING_POLICY.default, providers: DEFAULT_SHAPING_POLICY.providers };
  const r = v.safeParse(ShapingOverridesSchema, asOverrides);
  assert.ok(r.success, r.success ? '' : JSON.stringify(r.issues.map((i) => [v.getDotPath(i), i.message])));
  for (const p of Object.values(DEFAULT_SHAPING_POLICY.providers)) {
    for (const rule of p.automation) assert.ok(rule.source.length > 5, rule.id);
  }
});

test('published shaping numbers are in the table', () => {
  assert.equal(shapingFor('gmail').maxConnectionsPerIp, 5); // KumoMTA: Google at most 5 connections
  assert.equal(shapingFor('yahoo').messagesPerConnection, 20); // KumoMTA: Yahoo 20 per connection
  const ms = automationFor('microsoft', { code: 451, enhanced: '4.7.650', text: 'The mail server [1.2.3.4] has been temporarily rate limited due to IP reputation.' });
  assert.deepEqual(ms.map((r) => r.id), ['microsoft.4.7.650']);
  assert.deepEqual(ms[0].actions[0], { kind: 'set_shaping', duration: '90m', maxConnectionsPerIp: 1, ratePerIp: '1/min' });
  assert.equal(shapingFor('other').ratePerIp, DEFAULT_SHAPING_POLICY.default.ratePerIp);
});

test('automation picks rules by reply pattern', () => {
  const table: Array<[string, { code: number; enhanced: string | null; text: string }, string[]]> = [
    ['yahoo', { code: 421, enhanced: '4.7.0', text: '[TSS04] Messages from 1.2.3.4 temporarily deferred due to unexpected volume or user complaints' }, ['yahoo.TSS04']],
    ['yahoo', { code: 421, enhanced: '4.7.0', text: '[IPTS05] Messages from 1.2.3.4 temporarily deferred' }, ['yahoo.TSS05']],
    ['yahoo', { code: 553, enhanced: '5.7.1', text: "[BL21] Connections will not be accepted from 1.2.3.4, because the ip is in Spamhaus's list" }, ['yahoo.BL']],
    ['microsoft', { code: 550, enhanced: '5.7.1', text: 'part of their network is on our block list (S3150).' }, ['microsoft.S3150']],
    ['gmail', { code: 250, enhanced: '2.0.0', text: 'OK' }, []],
  ];
  for (const [provider, reply, ids] of table) assert.deepEqual(automationFor(provider, reply).map((r) => r.id), ids, reply.text);
});

test('overrides layer over the shipped table', () => {
  const p = loadShapingPolicy({
    default: { ratePerIp: '100/min' },
    providers: {
      gmail: {
        shaping: { maxConnectionsPerIp: 3 },
        automation: [{ id: 'gmail.rate-limited', match: { enhanced: '4.7.28' }, trigger: 'immediate', actions: [{ kind: 'suspend_ip', duration: '30m' }], source: 'ops runbook 12' }],
        disableAutomation: ['gmail.unusual-rate'],
      },
      seznam: { domains: ['seznam.cz'], mxSuffixes: ['*.seznam.cz'], shaping: { ratePerIp: '20/min' } },
    },
  });
  assert.equal(shapingFor('gmail', p).maxConnectionsPerIp, 3);
  assert.equal(shapingFor('gmail', p).messagesPerConnection, 50);
  assert.equal(shapingFor('other', p).ratePerIp, '100/min');
  assert.deepEqual(p.providers.gmail.automation.map((r) => r.id), ['gmail.rate-limited', 'gmail.no-auth-info', 'gmail.dmarc-unauthenticated']);
  assert.equal(p.providers.gmail.automation[0].actions[0].kind, 'suspend_ip');
  assert.equal(providerFor('seznam.cz', null, p), 'seznam');
  assert.equal(shapingFor('seznam', p).ratePerIp, '20/min');
  // The shipped table is untouched.
  assert.equal(shapingFor('gmail').maxConnectionsPerIp, 5);
});

test('the loader rejects unknown keys and bad units, naming the key path', () => {
  const table: Array<[unknown, RegExp]> = [
    [{ providers: { gmail: { shaping: { maxConn: 3 } } } }, /providers\.gmail\.shaping\.maxConn: unknown key/],
    [{ defaults: {} }, /defaults: unknown key/],
    [{ providers: { gmail: { shaping: { ratePerIp: '100' } } } }, /providers\.gmail\.shaping\.ratePerIp: invalid rate "100"/],
    [{ providers: { yahoo: { automation: [{ id: 'x', match: {}, trigger: 'immediate', actions: [{ kind: 'suspend_ip', duration: '2h' }], source: 's' }] } } }, /providers\.yahoo\.automation\.0\.match/],
    [{ providers: { yahoo: { automation: [{ id: 'x', match: { code: 421 }, trigger: 'immediate', actions: [{ kind: 'suspend_ip', duration: '2 fortnights' }], source: 's' }] } } }, /duration/],
    [{ providers: { newco: { shaping: { ratePerIp: '1/s' } } } }, /providers\.newco: a new provider needs domains/],
    [{ providers: { Bad_Key: { domains: ['x.com'] } } }, /provider key/],
  ];
  for (const [input, pattern] of table) {
    assert.throws(() => loadShapingPolicy(input), (e: Error) => e instanceof PolicyValidationError && pattern.test(e.message), JSON.stringify(input));
  }
});

test('automation triggers: immediate or a threshold within its window', () => {
  const M = 60_000;
  const table: Array<[trigger: string, hits: number[], now: number, fires: boolean]> = [
    ['immediate', [], 0, true],
    ['3/hr', [], 60 * M, false],
    ['3/hr', [30 * M], 60 * M, false],
    ['3/hr', [10 * M, 30 * M], 60 * M, true],
    ['3/hr', [0, 30 * M], 60 * M, false], // the first hit is an hour old
    ['2/10m', [55 * M], 60 * M, true],
  ];
  for (const [trigger, hits, now, fires] of table) assert.equal(triggerFires(trigger, hits, now), fires, `${trigger} ${hits}`);
});
