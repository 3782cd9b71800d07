/** The Store contract against the Node entry's store: LibsqlStore on a libSQL file, migrated as at start. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../edge/adapters/node-server.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import { storeContract } from './store.contract.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newMessage, newTenant, unique } from './store-fixtures.ts';

storeContract('LibsqlStore on a libSQL file (group commit on)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postlane-store-contract-'));
  const { client, db } = await openDatabase(`file:${join(dir, 'store.db')}`);
  return {
    store: new LibsqlStore(db),
    async close() {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// A heartbeat that lands while expireLeases runs — after it has read the expired leases, before
// it writes — must win: the write re-checks the expiry. The client is wrapped so the extension
// happens right after the first read of the leased jobs' expiry (or, if the expiry is one
// statement, right before it, which is the only other order a heartbeat can land in).
test('expireLeases does not expire a lease a heartbeat extended while it ran', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postlane-expiry-race-'));
  const { client, db } = await openDatabase(`file:${join(dir, 'store.db')}`);
  try {
    const store = new LibsqlStore(db);
    const { tenantId } = await newTenant(store);
    const pool = unique('pool');
    const now = Date.now();
    await store.acceptMessages(tenantId, [newMessage({ tenantId, recipients: ['race@dest.test'], pool, now })], null);
    const [job] = await store.claimJobs({ nodeId: 'node-r', region: 'eu', pools: [pool], limit: 1, now, leaseTtlMs: 1000 });
    const execute = client.execute.bind(client);
    let heartbeat = false;
    const extend = () => {
      heartbeat = true;
      return store.extendLeases('node-r', [job.leaseId!], now + 60_000);
    };
    client.execute = (async (stmt: string | { sql: string }) => {
      const text = (typeof stmt === 'string' ? stmt : stmt.sql).trim().toLowerCase();
      const touchesExpiry = !heartbeat && text.includes('lease_expires_at') && text.includes('delivery_jobs');
      if (touchesExpiry && !text.startsWith('select')) await extend();
      const result = await execute(stmt as never);
      if (touchesExpiry && text.startsWith('select')) await extend();
      return result;
    }) as typeof client.execute;
    // Past the lease's original expiry, before the extended one.
    await store.expireLeases(now + 5000);
    client.execute = execute as typeof client.execute;
    assert.ok(heartbeat, 'the heartbeat landed during the expiry');
    const [after] = await store.jobsByIds([job.id]);
    assert.deepEqual([after.state, after.leaseId, after.leaseExpiresAt], ['leased', job.leaseId, now + 60_000]);
    assert.equal((await store.jobEvents(after.messageId, after.id, ['lease_expired'])).length, 0, 'no lease_expired event for it');
  } finally {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
