/** The provider records (shared/policy/providers/*.json): shipped files, retry schedules, overrides. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { parseSmtpReply } from '../../../shared/smtp-reply.ts';
import {
  DEFAULT_SHAPING_POLICY,
  GenericRecordSchema,
  PolicyValidationError,
  ProviderRecordSchema,
  SHIPPED_RECORDS,
  buildShapingPolicy,
  loadShapingPolicy,
  providerFor,
} from '../../../shared/policy/providers.ts';
import { classifierFor, classifyReply, loadClassifier, type ClassifierTable } from '../../../shared/policy/classifier.ts';

const HOUR = 3600_000;
const MIN = 60_000;
const dir = fileURLToPath(new URL('../../../shared/policy/providers/', import.meta.url));
const issuesOf = (r: { issues?: v.BaseIssue<unknown>[] }) => JSON.stringify((r.issues ?? []).map((i) => [v.getDotPath(i), i.message]));
const classify = (raw: string, provider: string, table?: ClassifierTable) => classifyReply(parseSmtpReply(raw), { provider }, table);
const TSS04 = '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints';

test('every shipped JSON record validates, and every file is loaded', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.deepEqual(files.sort(), ['_generic.json', ...Object.keys(SHIPPED_RECORDS.providers).map((k) => `${k}.json`)].sort());
  for (const file of files) {
    const raw = JSON.parse(readFileSync(dir + file, 'utf8'));
    const r = file === '_generic.json' ? v.safeParse(GenericRecordSchema, raw) : v.safeParse(ProviderRecordSchema, raw);
    assert.ok(r.success, `${file}: ${issuesOf(r)}`);
    // The loader imports exactly the file's content.
    assert.deepEqual(raw, file === '_generic.json' ? SHIPPED_RECORDS.generic : SHIPPED_RECORDS.providers[file.slice(0, -'.json'.length)], file);
  }
  assert.deepEqual(Object.keys(DEFAULT_SHAPING_POLICY.providers), Object.keys(SHIPPED_RECORDS.providers));
  assert.deepEqual(DEFAULT_SHAPING_POLICY.default, (SHIPPED_RECORDS.generic as { shaping: unknown }).shaping);
  // One record holds a provider's rules: Yahoo's reply rules and automation are in yahoo.json.
  const yahoo = DEFAULT_SHAPING_POLICY.providers.yahoo;
  assert.ok(yahoo.replies.some((r) => r.id === 'yahoo.421-4.7.0-TSS04'));
  assert.ok(yahoo.automation.some((r) => r.id === 'yahoo.TSS04'));
  assert.deepEqual(yahoo.retry, {});
});

test('a bad shipped record fails at load, naming the file and key path', () => {
  const yahoo = structuredClone(SHIPPED_RECORDS.providers.yahoo) as Record<string, unknown>;
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...yahoo, retrys: {} }, /providers\/yahoo\.json: retrys: unknown key/],
    [{ ...yahoo, retry: { ip_reputation: { initial: '5h' } } }, /providers\/yahoo\.json: retry\.ip_reputation: retry max "4h" is shorter than initial "5h"/],
    [
      { ...yahoo, replies: [{ id: 'y.1', match: { text: '([' }, class: 'policy', source: 's' }] },
      /providers\/yahoo\.json: replies\.0\.match\.text: invalid regular expression/,
    ],
    [
      { ...yahoo, replies: [{ id: 'gmail.421-4.7.28', match: { code: 421 }, class: 'policy', source: 's' }] },
      /rule id "gmail\.421-4\.7\.28" is also in providers\.gmail/,
    ],
  ];
  const { gmail } = SHIPPED_RECORDS.providers;
  for (const [record, pattern] of cases) {
    assert.throws(
      () => buildShapingPolicy(SHIPPED_RECORDS.generic, { gmail, yahoo: record }),
      (e: Error) => e instanceof PolicyValidationError && pattern.test(e.message),
      pattern.source,
    );
  }
});

test("changing a retry schedule in a provider's record changes what the classifier returns", () => {
  const shipped = classify(TSS04, 'yahoo');
  assert.deepEqual(
    [shipped.rule, shipped.schedule.initialMs, shipped.schedule.maxDelayMs, shipped.schedule.ttlMs],
    ['yahoo.421-4.7.0-TSS04', 30 * MIN, 4 * HOUR, 72 * HOUR],
  );

  // A Yahoo record whose ip_reputation replies retry later, and whose TSS04 rule gives up sooner.
  const yahoo = structuredClone(SHIPPED_RECORDS.providers.yahoo) as { retry: object; replies: Array<Record<string, unknown>> };
  yahoo.retry = { ip_reputation: { initial: '2h', max: '8h' }, rate_limited: { initial: '20m' } };
  const policy = buildShapingPolicy(SHIPPED_RECORDS.generic, { yahoo });
  const table = classifierFor(policy);
  const c = classify(TSS04, 'yahoo', table);
  assert.deepEqual([c.class, c.rule, c.outcome], [shipped.class, shipped.rule, shipped.outcome]);
  assert.deepEqual(c.schedule, { initialMs: 2 * HOUR, factor: 2, maxDelayMs: 8 * HOUR, jitter: 0.5, ttlMs: 72 * HOUR });
  // The provider's schedule covers its replies matched by generic wording and RFC fallbacks too.
  assert.equal(classify('421 Too many connections, slow down', 'yahoo', table).schedule.initialMs, 20 * MIN);
  assert.equal(classify('421 Too many connections, slow down', 'other', table).schedule.initialMs, 10 * MIN);
  // A Yahoo rule keeps Yahoo's schedule when the recipient was not recognised as Yahoo.
  assert.equal(classify(TSS04, 'other', table).schedule.initialMs, 2 * HOUR);

  // A rule's own retry layers last.
  yahoo.replies = yahoo.replies.map((r) => (r.id === 'yahoo.421-4.7.0-TSS04' ? { ...r, retry: { ttl: '24h' } } : r));
  const withRow = classify(TSS04, 'yahoo', classifierFor(buildShapingPolicy(SHIPPED_RECORDS.generic, { yahoo })));
  assert.deepEqual([withRow.schedule.initialMs, withRow.schedule.ttlMs], [2 * HOUR, 24 * HOUR]);
  assert.equal(
    classify('421 4.7.0 [TSS05] deferred', 'yahoo', classifierFor(buildShapingPolicy(SHIPPED_RECORDS.generic, { yahoo }))).schedule.ttlMs,
    72 * HOUR,
  );

  // A new provider, all in one record.
  const seznam = {
    name: 'Seznam',
    source: 'test',
    domains: ['seznam.cz'],
    mxSuffixes: ['*.seznam.cz'],
    shaping: { ratePerIp: '20/min' },
    retry: {},
    replies: [{ id: 'seznam.421-busy', match: { code: 421, text: 'busy' }, class: 'rate_limited', retry: { initial: '3m', max: '30m' }, source: 'test' }],
    automation: [],
  };
  const withSeznam = buildShapingPolicy(SHIPPED_RECORDS.generic, { ...SHIPPED_RECORDS.providers, seznam });
  assert.equal(providerFor('seznam.cz', null, withSeznam), 'seznam');
  const s = classify('421 server busy', 'seznam', classifierFor(withSeznam));
  assert.deepEqual([s.rule, s.schedule.initialMs, s.schedule.maxDelayMs], ['seznam.421-busy', 3 * MIN, 30 * MIN]);

  // The shipped records are untouched.
  assert.equal(classify(TSS04, 'yahoo').schedule.initialMs, 30 * MIN);
});

test('operators override the same record: retry schedules and reply rules per provider', () => {
  const doc = {
    generic: { classes: { mailbox_full: { retry: { ttl: '24h' } } } },
    providers: {
      yahoo: {
        retry: { ip_reputation: { initial: '1h', max: '6h' } },
        replies: [
          { id: 'ops.yahoo-busy', match: { code: 421, text: 'server busy' }, class: 'rate_limited', retry: { initial: '15m' }, source: 'ops runbook 3' },
        ],
        disableReplies: ['yahoo.554-30-disabled'],
      },
    },
  };
  const policy = loadShapingPolicy(doc);
  assert.deepEqual(policy.providers.yahoo.replies[0].id, 'ops.yahoo-busy'); // new rules go first
  assert.equal(policy.providers.yahoo.automation.length, DEFAULT_SHAPING_POLICY.providers.yahoo.automation.length);
  for (const table of [classifierFor(policy), loadClassifier(doc)]) {
    assert.deepEqual([classify(TSS04, 'yahoo', table).schedule.initialMs, classify(TSS04, 'yahoo', table).schedule.maxDelayMs], [1 * HOUR, 6 * HOUR]);
    const busy = classify('421 server busy, try later', 'yahoo', table);
    assert.deepEqual([busy.rule, busy.schedule.initialMs], ['ops.yahoo-busy', 15 * MIN]);
    assert.equal(classify('421 server busy, try later', 'gmail', table).rule, 'rfc5321.421');
    // The disabled rule is gone: the next Yahoo rule answers.
    assert.equal(classify('554 delivery error: dd This mailbox is disabled (554.30).', 'yahoo', table).rule, 'yahoo.554-delivery-error');
    assert.equal(classify('452 4.2.2 over quota', 'gmail', table).schedule.ttlMs, 24 * HOUR);
  }
  // The classifier's older keys land in the same records.
  const legacy = loadClassifier({ classes: { rate_limited: { schedule: { initial: '20m' } } } });
  const same = loadClassifier({ generic: { classes: { rate_limited: { retry: { initial: '20m' } } } } });
  assert.deepEqual(classify('421 4.7.28 x', 'gmail', legacy), classify('421 4.7.28 x', 'gmail', same));
  assert.equal(classify('421 4.7.28 x', 'gmail', legacy).schedule.initialMs, 20 * MIN);
  const moved = loadClassifier({ rules: [{ id: 'any.over-quota-wording', provider: 'gmx', match: { text: 'quota' }, class: 'mailbox_full', source: 'ops' }] });
  assert.deepEqual(
    moved.rules.filter((r) => r.id === 'any.over-quota-wording').map((r) => r.provider),
    ['gmx'],
  );
  // The shipped records are untouched.
  assert.equal(classify(TSS04, 'yahoo').schedule.initialMs, 30 * MIN);
});

test('an override with an unknown key or a bad schedule is refused, naming the path', () => {
  const row = { id: 'ops.x', match: { code: 421 }, class: 'rate_limited', source: 'ops' };
  const cases: Array<[unknown, RegExp]> = [
    [{ providers: { yahoo: { retry: { ip_reputation: { inital: '1h' } } } } }, /providers\.yahoo\.retry\.ip_reputation\.inital: unknown key/],
    [{ providers: { yahoo: { retry: { slow: { initial: '1h' } } } } }, /providers\.yahoo\.retry\.slow: unknown key/],
    [{ providers: { yahoo: { replies: [{ ...row, retries: {} }] } } }, /providers\.yahoo\.replies\.0\.retries: unknown key/],
    [{ providers: { yahoo: { replies: [{ ...row, retry: { initial: '1 fortnight' } }] } } }, /providers\.yahoo\.replies\.0\.retry\.initial: invalid duration/],
    [{ providers: { yahoo: { replyRules: [] } } }, /providers\.yahoo\.replyRules: unknown key/],
    [{ generic: { classes: { slow: {} } } }, /generic\.classes\.slow: unknown key/],
    [{ generic: { classes: { network: { retry: { intial: '1m' } } } } }, /generic\.classes\.network\.retry\.intial: unknown key/],
    [{ generic: { shaping: { maxConn: 1 } } }, /generic\.shaping\.maxConn: unknown key/],
    [
      { providers: { yahoo: { retry: { ip_reputation: { initial: '5h' } } } } },
      /providers\.yahoo\.retry\.ip_reputation: retry max "4h" is shorter than initial "5h"/,
    ],
    [
      { providers: { yahoo: { replies: [{ ...row, retry: { max: '1m' } }] } } },
      /providers\.yahoo\.replies\.ops\.x\.retry: retry max "1m" is shorter than initial "10m"/,
    ],
    [{ providers: { yahoo: { disableReplies: ['yahoo.nope'] } } }, /providers\.yahoo\.disableReplies\.0: no rule "yahoo\.nope" to disable/],
    [{ providers: { gmail: { replies: [{ ...row, id: 'yahoo.553-5.7.1-BL' }] } } }, /rule id "yahoo\.553-5\.7\.1-BL" is also in/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(
      () => loadShapingPolicy(input),
      (e: Error) => e instanceof PolicyValidationError && pattern.test(e.message),
      `loadShapingPolicy ${JSON.stringify(input)}`,
    );
    assert.throws(
      () => loadClassifier(input),
      (e: Error) => e instanceof PolicyValidationError && /^invalid classifier policy: /.test(e.message) && pattern.test(e.message),
      `loadClassifier ${JSON.stringify(input)}`,
    );
  }
  assert.throws(() => loadClassifier({ rules: [{ ...row, provider: 'nobody' }] }), /rules\.0\.provider: no provider record "nobody"/);
});
