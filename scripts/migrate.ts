/**
 * Applies the committed migrations (migrations/, drizzle-kit output) to a libSQL server over
 * HTTP and bootstraps the first tenant: what the Worker never does itself.
 *
 *   POSTLANE_DB_URL=https://<db>.turso.io POSTLANE_DB_AUTH_TOKEN=… POSTLANE_API_KEY=… POSTLANE_NODE_TOKEN=… \
 *   POSTLANE_REGION=eu npx tsx scripts/migrate.ts
 *
 * POSTLANE_API_KEY / POSTLANE_NODE_TOKEN are optional: without them, new ones are generated
 * into POSTLANE_DATA_DIR (default .postlane) and the admin key is printed once.
 */
import { bootstrap, openDatabase } from '../edge/adapters/node-server.ts';
import { parseNodeEnv } from '../edge/adapters/node-config.ts';
import { LibsqlStore } from '../edge/store/libsql-store.ts';
import { consoleLogger } from '../edge/logger.ts';
import { mkdirSync } from 'node:fs';

const url = process.env.POSTLANE_DB_URL;
if (!url) {
  console.error('POSTLANE_DB_URL is required (https://… or libsql://… or http://127.0.0.1:8080)');
  process.exit(2);
}
const env = parseNodeEnv(process.env);
mkdirSync(env.POSTLANE_DATA_DIR, { recursive: true, mode: 0o700 });
const { client, db } = await openDatabase(url, process.env.POSTLANE_DB_AUTH_TOKEN);
await bootstrap(new LibsqlStore(db), env, env.POSTLANE_DATA_DIR, consoleLogger('info'));
client.close();
console.log(`migrations applied and tenant bootstrapped on ${url}; node token region: ${env.POSTLANE_REGION}`);
