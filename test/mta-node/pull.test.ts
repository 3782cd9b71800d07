/**
 * Flow control of the node's pulls (lease-client.ts): a node with little work asks for every
 * free slot at once, so a new message never waits for a batch to fill; a busy node asks in
 * batches of `pullBatch`, so the hub runs one claim per batch instead of one per freed slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pino from 'pino';
import { LeaseClient } from '../../mta-node/lease-client.ts';
import { Journal } from '../../mta-node/journal.ts';
import { PROTOCOL_VERSION, type NodeToHub } from '../../shared/protocol.ts';
import { RAW, job, startHub, tmpDir, until } from './helpers.ts';

test('pulls: at once while the node is nearly idle, in batches of pullBatch while it is busy', async () => {
  const hub = await startHub();
  const dir = tmpDir();
  const journal = new Journal({ path: join(dir.path, 'pull.journal'), fsync: false });
  await journal.open();
  let free = 20;
  const client = new LeaseClient({
    edge: hub.url,
    token: 't',
    nodeId: 'node-pull',
    region: 'eu',
    version: 'test',
    ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'mta.test' }],
    capacity: 20,
    pullBatch: 5,
    journal,
    logger: pino({ level: 'silent' }) as never,
    handlers: { onWelcome() {}, onLease: (l) => void (leasesSeen += l.jobs.length), freeCapacity: () => free, heldLeaseIds: () => [] },
  });
  const pulls = () => hub.frames.filter((f): f is Extract<NodeToHub, { type: 'pull' }> => f.type === 'pull').map((f) => f.credits);
  let leased = 0;
  const fill = async (n: number) => {
    hub.send({ type: 'lease', v: PROTOCOL_VERSION, jobs: Array.from({ length: n }, () => job({ jobId: `job-${++leased}` })), messages: [{ messageId: 'msg1', raw: RAW }], keys: [] });
    await until(() => leasesSeen === leased, 2_000, 'the lease frame');
  };
  let leasesSeen = 0;
  const pumpAndSettle = async () => {
    client.pump();
    await new Promise((r) => setTimeout(r, 30));
  };
  try {
    client.start();
    await client.whenReady();
    await until(() => pulls().length === 1, 2_000, 'the first pull');
    assert.deepEqual(pulls(), [20], 'an idle node asks for all it can hold');

    // The hub fills all 20 credits: the node is busy. Each freed slot alone asks for nothing…
    free = 0;
    await fill(20);
    for (free = 1; free < 5; free++) await pumpAndSettle();
    assert.deepEqual(pulls(), [20], 'no pull for fewer than pullBatch free slots while busy');
    // …until a batch is free.
    free = 5;
    await pumpAndSettle();
    assert.deepEqual(pulls(), [20, 5]);

    // Nearly idle again (no more than pullBatch held): every freed slot is asked for at once.
    await fill(5);
    free = 16;
    await pumpAndSettle();
    assert.deepEqual(pulls(), [20, 5, 16]);
  } finally {
    await client.stop();
    await hub.close();
    dir.cleanup();
  }
});
