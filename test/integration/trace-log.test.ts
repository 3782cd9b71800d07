/**
 * The trace log on the Node edge, through real pino: one JSON line per committed message event
 * (accepted, leased, deferred with its reason, delivered, bounced …), each carrying the message,
 * job, tenant and — for attempts — node and IP, in each message's trace order, with no key twice
 * on a line; and the start-up settings echo masks secrets.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';
import { effectiveSettings, parseSettings } from '../../edge/settings.ts';

const lines: string[] = [];
const stream = new Writable({
  write(chunk, _enc, cb) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  },
});

/** The keys of one JSON object line at its top level, in order, duplicates kept (JSON.parse keeps only the last). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('trace log: one line per state change', () => {
  let sink: Sink;
  let p: Platform;

  before(async () => {
    // Every 5th recipient is deferred once, every 7th bounced: the trace has all three outcomes.
    const seen = new Set<string>();
    sink = await startSink({
      onRcpt: (to) => {
        const n = Number(/^r(\d+)@/.exec(to)?.[1] ?? -1);
        if (n % 7 === 0) return Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 });
        if (n % 5 === 0 && !seen.has(to)) {
          seen.add(to);
          return Object.assign(new Error('4.2.1 try again later'), { responseCode: 451 });
        }
        return null;
      },
    });
    p = await startPlatform({ sinkPort: sink.port, logger: pino({ level: 'info' }, stream) as never });
    await addDomain(p, 'trace.test');
    await p.startNode();
  });
  after(async () => {
    await p.stop();
    await sink.close();
  });

  test('200 messages: each committed event is one line, in trace order, with its correlation ids and no repeated key', async () => {
    const messages = Array.from({ length: 200 }, (_, i) => ({ from: 'app@trace.test', to: `r${i + 1}@example.com`, subject: `trace ${i}`, text: 'hi' }));
    const res = await p.api('POST', '/v1/messages/batch', { messages });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const ids: string[] = res.body.data.map((m: { id: string }) => m.id);
    const final = new Set(['delivered', 'bounced', 'failed']);
    const traces = await waitFor(async () => {
      const out = new Map<string, Array<{ type: string }>>();
      for (const id of ids) {
        const v = await p.api('GET', `/v1/messages/${id}`);
        if (!final.has(v.body.status)) return null;
        out.set(id, v.body.events);
      }
      return out;
    }, 120_000, 'every message final');
    const expected = [...traces.values()].reduce((n, e) => n + e.length, 0);
    const traceLines = () => lines.map((l) => JSON.parse(l)).filter((l) => l.component === 'trace' && ids.includes(l.message));
    await waitFor(() => traceLines().length >= expected || null, 30_000, `${expected} trace lines`);
    const got = traceLines();
    assert.equal(got.length, expected, 'one line per event, none twice');
    for (const [id, events] of traces) {
      const mine = got.filter((l) => l.message === id);
      assert.deepEqual(mine.map((l) => l.event), events.map((e) => e.type), `${id}: the lines follow the trace`);
      assert.deepEqual(mine.map((l) => l.index), events.map((_, i) => i + 1));
      for (const l of mine) {
        assert.ok(l.tenant && l.lane, 'tenant and lane on every line');
        if (l.event === 'leased' || l.event === 'delivered' || l.event === 'deferred' || l.event === 'bounced') {
          assert.ok(l.job, `${l.event} names its job`);
          assert.ok(l.node, `${l.event} names the node`);
        }
        if (l.event === 'deferred') assert.match(l.reply, /451/, 'a deferral says why');
      }
    }
    assert.ok(got.some((l) => l.event === 'deferred') && got.some((l) => l.event === 'bounced') && got.some((l) => l.event === 'delivered'));
    for (const raw of lines) {
      const keys = topLevelKeys(raw);
      assert.equal(new Set(keys).size, keys.length, `no key twice: ${raw.slice(0, 200)}`);
    }
  });

  test('the settings echo shows what is in force and masks secrets and URL credentials', () => {
    const s = parseSettings({ POSTLANE_DB_URL: 'http://user:pw@db.internal:8080', POSTLANE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), POSTLANE_API_KEY: 'a-very-long-api-key-value' }, 'node');
    const shown = effectiveSettings(s, 'node');
    assert.equal(shown.POSTLANE_MASTER_KEY, '[set]');
    assert.equal(shown.POSTLANE_API_KEY, '[set]');
    assert.equal(shown.POSTLANE_DB_URL, 'http://[credentials]@db.internal:8080');
    assert.equal(shown.POSTLANE_HUB_TICK_MS, 250);
    assert.ok(!('POSTLANE_REGIONS' in shown), 'a Workers-only setting is not echoed on Node');
    assert.ok(!JSON.stringify(shown).includes('a-very-long-api-key-value'));
  });
});
