/**
 * The event catalog (shared/events/): every type has a schema, a sample of each parses, the
 * constructors give the store's shape, and no source file under edge/ or mta-node/ names a
 * catalog event type as an event's `type:` outside the catalog (so adding one is one place).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import {
  MESSAGE_EVENT_SCHEMAS,
  MESSAGE_EVENT_TYPES,
  POLICY_EVENT_SCHEMAS,
  POLICY_EVENT_SCOPES,
  POLICY_EVENT_TYPES,
  messageEvent,
  parseMessageEventData,
  parsePolicyEventData,
  policyEvent,
  policyRecord,
  type MessageEventData,
  type MessageEventType,
  type PolicyEventData,
  type PolicyEventType,
} from '../../shared/events/index.ts';
import { MessageEventSchema } from '../../shared/api.ts';
import { JOB_STATES, LANE_RANK, LANES } from '../../shared/lanes.ts';
import { LANES as SCHEDULER_LANES } from '../../shared/policy/scheduler.ts';
import { LANE_PRIORITY } from '../../mta-node/smtp-pool.ts';

const at = '2025-01-02T03:04:05.000Z';
const attempt = { node: 'eu-1', attempt: 1, mx: 'mx.example.com', ip: '192.0.2.7', tls: 'TLSv1.3', reply: '250 2.0.0 ok', code: 250, enhanced: '2.0.0', stage: 'DATA', class: 'accepted', rule: 'generic.2xx', duration_ms: 120 };
const report = { type: 'arf', report_message_id: '<r@fbl>', original_message_id: '<msg_x@example.com>', feedback_type: 'abuse' } as const;
const dsn = { type: 'dsn', report_message_id: '<d@mta>', original_message_id: null, source: 'dsn', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 unknown user', remote_mta: 'mx.example.com' } as const;

/** One sample `data` per message event type: a type missing here does not compile. */
const MESSAGE_SAMPLES: { [T in MessageEventType]: MessageEventData<T> } = {
  accepted: { recipients: 2, lane: 'transactional', pool: 'transactional', size_bytes: 1200 },
  scheduled: { send_at: at },
  canceled: { recipients: 2, send_at: at },
  rescheduled: { send_at: at, previous_send_at: null, recipients: 2 },
  suppressed: { recipient: 'a@example.com', reason: 'on the list', suppression_reason: 'complaint', listed_at: at },
  recipient_flagged: { recipient: 'info@example.com', flags: ['role_account'], reason: null },
  leased: { node: 'eu-1', region: 'eu', pool: 'transactional', ips: ['192.0.2.7'], provider: 'gmail', attempt: 1, lease_expires_at: at },
  delivered: { ...attempt, class: undefined, rule: undefined },
  deferred: { ...attempt, next_attempt_at: at, retry_in_ms: 60_000 },
  bounced: { ...attempt, suppress_recipient: true },
  failed: { reason: 'ttl spent', last_reply: '451 4.7.1 later', attempts: 9 },
  lease_expired: { node: 'eu-1', lease_id: 'l_1', reason: 'no result before the lease TTL' },
  lease_released: { node: 'eu-1', lease_id: 'l_1', reason: 'destination busy', next_attempt_at: '2026-01-01T00:00:30.000Z' },
  throttled: { limit: 'provider:gmail', reason: 'rate', next_attempt_at: at },
  waiting: { reason: 'no node in us', region: 'us' },
  complained: { ...report, matched_recipient: 'a@example.com', pool: 'outreach', sender_domain: 'example.com', suppressed: true },
  feedback_report: { ...report, feedback_type: 'not-spam', matched_recipient: 'a@example.com', pool: 'outreach', sender_domain: 'example.com' },
  dsn_received: { ...dsn, action: 'delayed', status: '4.4.1' },
  unsubscribed: { recipient: 'a@example.com', lane: 'lifecycle', sender_domain: 'example.com', method: 'one_click', suppressed: true },
  opened: { recipient: 'a@example.com', user_agent: 'Mozilla/5.0' },
  clicked: { recipient: 'a@example.com', url: 'https://example.com/pricing', user_agent: null },
  replayed: { replay_message: 'msg_2', replay_job: 'job_2', by_key: 'key_1', pool: 'second', lane: 'transactional', forced: false, reason: null },
  replay_of: { original_message: 'msg_1', original_job: 'job_1', recipient: 'a@example.com', pool: 'second', lane: 'transactional' },
  held: { hold_id: 'hold_1', scope: 'tenant', key: 'ten_1', reason: '2000 recipients in the last hour, over 20 x the trailing p95' },
  hold_approved: { hold_id: 'hold_1', by_key: 'key_1', reason: 'planned launch' },
  hold_rejected: { hold_id: 'hold_1', by_key: 'key_1', reason: null },
};

const metrics = { sent: 100, bounced: 1, complained: 3, blocked: 0, bounceRate: 0.01, complaintRate: 0.03 };
const target = { warmup: 'wu_1', scope: 'pool', target: 'outreach', pool: 'outreach' };

const POLICY_SAMPLES: { [T in PolicyEventType]: PolicyEventData<T> } = {
  breaker: { metrics, rate_per_min: 0, open_until: 1_700_000_000_000, rule: { pause_on_complaint_rate: 0.003, pause_min_volume: 50 } },
  rate: { provider: 'gmail', pool: 'transactional' },
  suspend: { provider: 'gmail', ip: '192.0.2.7' },
  automation: { rule: 'gmail.rate-limited', action: 'set_shaping', provider: 'gmail', ip: '192.0.2.7', until: 1_700_000_000_000, shaping: { ratePerIp: '20/min', maxConnectionsPerIp: 2 }, reply: '421 4.7.28 rate limited' },
  warmup: { ...target, provider: 'gmail', decision: 'grow', from_day: 1, to_day: 2, signals: { sent: 50, complained: 0, blocked: 0, bounced: 0 }, cap_from: 50, cap_to: 100 },
  domain: { tenant: 'ten_1', domain: 'example.com', records: { dkim: 'ok', ownership: 'ok', spf: 'missing', dmarc: 'ok', return_path: 'skipped' }, by: 'api' },
};

test('every message event type has a schema, and a sample of each parses', () => {
  assert.deepEqual([...MESSAGE_EVENT_TYPES].sort(), Object.keys(MESSAGE_SAMPLES).sort());
  for (const type of MESSAGE_EVENT_TYPES) {
    assert.ok(MESSAGE_EVENT_SCHEMAS[type], `${type} has a schema`);
    const r = parseMessageEventData(type, MESSAGE_SAMPLES[type]);
    assert.ok(r.success, `${type}: ${r.error?.message}`);
  }
  // The async bounce of a DSN is the other shape of `bounced`.
  assert.ok(parseMessageEventData('bounced', { ...dsn, class: 'hard_bounce', rule: 'rfc3463.5.1.1', suppress_recipient: true, reply: '550 5.1.1 unknown user', async: true }).success);
  assert.equal(parseMessageEventData('leased', { node: 'eu-1' }).success, false);
});

test('every policy event type has a schema and scopes, and a sample of each parses', () => {
  assert.deepEqual([...POLICY_EVENT_TYPES].sort(), Object.keys(POLICY_SAMPLES).sort());
  for (const type of POLICY_EVENT_TYPES) {
    assert.ok(POLICY_EVENT_SCHEMAS[type], `${type} has a schema`);
    assert.ok(POLICY_EVENT_SCOPES[type].length > 0, `${type} has scopes`);
    const r = parsePolicyEventData(type, POLICY_SAMPLES[type]);
    assert.ok(r.success, `${type}: ${r.error?.message}`);
  }
  for (const data of [{ ...target, lane: null, overrides: {}, by: 'key_1' }, { ...target, by: 'key_1' }, target]) {
    assert.ok(parsePolicyEventData('warmup', data).success);
  }
});

test('the constructors give the store shapes', () => {
  assert.deepEqual(messageEvent('waiting', { messageId: 'msg_1', jobId: 'job_1', at: 5, data: MESSAGE_SAMPLES.waiting }), {
    messageId: 'msg_1', jobId: 'job_1', type: 'waiting', at: 5, data: MESSAGE_SAMPLES.waiting,
  });
  const e = policyEvent('suspend', { scope: 'provider_ip', key: 'gmail|192.0.2.7', from: null, to: at, reason: 'block', at: 5, data: POLICY_SAMPLES.suspend });
  assert.equal(e.type, 'suspend');
  assert.deepEqual(policyRecord(e), { scope: 'provider_ip', key: 'gmail|192.0.2.7', type: 'suspend', fromState: null, toState: at, reason: 'block', at: 5, data: POLICY_SAMPLES.suspend });
});

test('the API documents the message event union', () => {
  assert.ok(MessageEventSchema.safeParse({ seq: 1, type: 'delivered', at, job_id: null, data: null }).success);
  assert.equal(MessageEventSchema.safeParse({ seq: 1, type: 'no_such_event', at, job_id: null, data: null }).success, false);
});

test('lanes and job states are named once', () => {
  assert.deepEqual(LANES, ['transactional', 'lifecycle', 'outreach']);
  assert.equal(SCHEDULER_LANES, LANES);
  assert.deepEqual(LANES.map((l) => LANE_PRIORITY[l]), [0, 1, 2]);
  assert.deepEqual(LANES.map((l) => LANE_RANK[l]), [0, 1, 2]);
  assert.ok(JOB_STATES.includes('suppressed'));
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test('no catalog event type is spelled as an event `type:` outside shared/events', () => {
  const root = join(import.meta.dirname, '..', '..');
  const names = new Set<string>([...MESSAGE_EVENT_TYPES, ...POLICY_EVENT_TYPES]);
  const hits: string[] = [];
  for (const file of ['edge', 'mta-node'].flatMap((d) => sources(join(root, d)))) {
    const text = readFileSync(file, 'utf8');
    if (!/\btype\s*:/.test(text)) continue;
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      // `{ type: 'delivered', … }` in a value (not a type annotation): an event built by hand.
      if (ts.isPropertyAssignment(node) && node.name.getText(sf) === 'type' && ts.isStringLiteralLike(node.initializer) && names.has(node.initializer.text)) {
        const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
        hits.push(`${relative(root, file)}:${line + 1}: type: '${node.initializer.text}'`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  assert.deepEqual(hits, [], 'build events with messageEvent() / policyEvent() from shared/events');
});
