/** The Store contract against the Node entry's store: LibsqlStore on a libSQL file, migrated as at start. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../edge/adapters/node-server.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import { storeContract } from './store.contract.ts';

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
