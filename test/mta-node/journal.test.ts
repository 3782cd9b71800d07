import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Journal } from '../../mta-node/journal.ts';
import type { DeliveryResult } from '../../shared/protocol.ts';
import { tmpDir } from './helpers.ts';

function result(n: number, outcome: DeliveryResult['outcome'] = 'delivered'): DeliveryResult {
  return {
    jobId: `j${n}`, leaseId: `l${n}`, dedupKey: `d${n}`, outcome,
    reply: { code: outcome === 'delivered' ? 250 : outcome === 'deferred' ? 451 : 550, enhanced: null, text: 'x' },
    error: null, stage: 'DATA', mx: 'mx:25', sourceIp: '127.0.0.1', tls: null, startedAt: 1, finishedAt: 2, fromJournal: false,
  };
}

test('unacked results and terminal dedup keys survive a restart; a torn last line is skipped', async () => {
  const dir = tmpDir();
  const path = join(dir.path, 'sub', 'node.journal');
  try {
    const j1 = new Journal({ path });
    await j1.open();
    await j1.appendResults([result(1), result(2, 'deferred'), result(3, 'bounced')]);
    assert.equal(await j1.markAcked(['j1']), 1);
    await j1.close();
    appendFileSync(path, '{"t":"r","r":{"jobId":');
    const j2 = new Journal({ path });
    await j2.open();
    assert.deepEqual(j2.unackedResults().map((r) => r.jobId), ['j2', 'j3']);
    assert.equal(j2.terminalFor('d1')?.outcome, 'delivered');
    assert.equal(j2.terminalFor('d3')?.outcome, 'bounced');
    assert.equal(j2.terminalFor('d2'), null, 'a deferral is not terminal');
    await j2.appendResults([result(4)]);
    await j2.close();
    const j3 = new Journal({ path });
    await j3.open();
    assert.deepEqual(j3.unackedResults().map((r) => r.jobId), ['j2', 'j3', 'j4']);
    await j3.close();
  } finally {
    dir.cleanup();
  }
});

test('compaction keeps unacked results and the newest terminal entries', async () => {
  const dir = tmpDir();
  const path = join(dir.path, 'node.journal');
  try {
    const j = new Journal({ path, maxBytes: 4_000, keepTerminal: 5 });
    await j.open();
    for (let i = 1; i <= 40; i++) {
      await j.appendResults([result(i)]);
      if (i !== 39) await j.markAcked([`j${i}`]);
    }
    assert.ok(j.size < 4_000, `compacted to ${j.size} bytes`);
    await j.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.ok(lines.length < 40);
    const again = new Journal({ path, keepTerminal: 5 });
    await again.open();
    assert.deepEqual(again.unackedResults().map((r) => r.jobId), ['j39']);
    assert.equal(again.terminalFor('d40')?.jobId, 'j40');
    assert.equal(again.terminalFor('d39')?.jobId, 'j39');
    assert.equal(again.terminalFor('d1'), null, 'old terminal entries age out');
    await again.close();
  } finally {
    dir.cleanup();
  }
});

test('a reported result is journaled at once, and results that arrive during a write join the next one (group commit)', async () => {
  const { LeaseClient } = await import('../../mta-node/lease-client.ts');
  const dir = tmpDir();
  const journal = new Journal({ path: join(dir.path, 'group.journal') });
  await journal.open();
  const writes: string[][] = [];
  const append = journal.appendResults.bind(journal);
  journal.appendResults = (results) => {
    writes.push(results.map((r) => r.jobId));
    return append(results);
  };
  const client = new LeaseClient({
    edge: 'ws://127.0.0.1:9', token: 't', nodeId: 'n', region: 'eu', version: 'test', ips: [], capacity: 1, journal,
    logger: { info() {}, warn() {}, error() {}, debug() {}, child() { return this; } } as never,
    handlers: { onWelcome() {}, onLease() {}, freeCapacity: () => 0, heldLeaseIds: () => [] },
  });
  try {
    client.report(result(1));
    // Before any timer could fire (a setImmediate runs ahead of every timeout), the write is under way.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes, [['j1']], 'the first result is written without waiting for a batch timer');
    for (let n = 2; n <= 5; n++) client.report(result(n));
    await client.flushNow(false);
    assert.deepEqual(writes.slice(1).flat(), ['j2', 'j3', 'j4', 'j5'], 'every later result written once, in order');
    assert.ok(writes.length <= 3, `results reported during one write share the next (${writes.length} writes)`);
    const reopened = new Journal({ path: join(dir.path, 'group.journal') });
    await reopened.open();
    assert.deepEqual(reopened.unackedResults().map((r) => r.jobId), ['j1', 'j2', 'j3', 'j4', 'j5']);
    await reopened.close();
  } finally {
    await client.stop();
    await journal.close();
    dir.cleanup();
  }
});
