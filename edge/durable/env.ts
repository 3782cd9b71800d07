/**
 * The Worker's runtime pieces, bound once per isolate from its env: the settings (edge/settings.ts,
 * the same schema and names as Node), the store (libSQL over HTTP behind the write gate and a
 * short timeout), secrets and a JSON console logger. A bad or missing binding stops the Worker
 * with a message naming it (every request answers 500 with that message in the log) instead of
 * failing later in a route. The Durable Objects bind the same env, so the API and the hubs
 * agree on every setting.
 */
import { createClient } from '@libsql/client/web';
import { drizzle } from 'drizzle-orm/libsql/web';
import * as schema from '../store/schema.ts';
import { LibsqlStore } from '../store/libsql-store.ts';
import { guardStore } from '../store/guarded.ts';
import { gateWrites } from './write-gate.ts';
import { createSecrets } from '../secrets.ts';
import { consoleLogger, type Logger, type LogLevel } from '../logger.ts';
import { parseSettings, SettingsError, type Settings, type SettingsLogLevel } from '../settings.ts';
import type { Secrets } from '../ports/secrets.ts';
import type { Store } from '../ports/store.ts';
import type { RateCounter } from './rate-counter.ts';
import type { LeaseHubObject } from './lease-hub.ts';
import type { WebhookSenderObject } from './webhook-sender.ts';

export interface WorkerBindings {
  LEASE_HUB: DurableObjectNamespace<LeaseHubObject>;
  RATE_COUNTER: DurableObjectNamespace<RateCounter>;
  WEBHOOK_SENDER: DurableObjectNamespace<WebhookSenderObject>;
  [setting: string]: unknown;
}

const DURABLE_OBJECT_BINDINGS = ['LEASE_HUB', 'RATE_COUNTER', 'WEBHOOK_SENDER'] as const;

/** The settings, and the Durable Object bindings wrangler.toml declares. */
export function parseWorkerEnv(env: Record<string, unknown>): Settings {
  const missing = DURABLE_OBJECT_BINDINGS.filter((b) => !env[b]).map((b) => `${b}: Durable Object binding missing (see wrangler.toml)`);
  let settings: Settings | null = null;
  try {
    settings = parseSettings(env, 'worker');
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    throw new SettingsError('worker', [...error.problems, ...missing]);
  }
  if (missing.length) throw new SettingsError('worker', missing);
  return settings;
}

/** The console logger has no trace or fatal: the nearest level. */
function consoleLevel(level: SettingsLogLevel): LogLevel {
  return level === 'trace' ? 'debug' : level === 'fatal' ? 'error' : level;
}

export interface WorkerRuntime {
  settings: Settings;
  store: Store;
  secrets: Secrets;
  logger: Logger;
}

/** Settings, store, secrets and logger of this isolate; `svc` tags its log lines. */
export async function workerRuntime(env: Record<string, unknown>, svc: string): Promise<WorkerRuntime> {
  const settings = parseWorkerEnv(env);
  // The client's concurrency limiter queues calls behind each other's I/O; on Workers a call
  // released by another request's completion is never woken, so it must never queue.
  const client = gateWrites(createClient({ url: settings.POSTLANE_DB_URL!, authToken: settings.POSTLANE_DB_AUTH_TOKEN, concurrency: 1_000_000 }), {
    concurrency: settings.POSTLANE_STORE_WRITE_CONCURRENCY,
    maxWaitMs: settings.POSTLANE_STORE_TIMEOUT_MS,
  });
  const store = guardStore(new LibsqlStore(drizzle(client, { schema }), { groupCommit: false }), settings.POSTLANE_STORE_TIMEOUT_MS);
  return {
    settings,
    store,
    secrets: await createSecrets(settings.POSTLANE_MASTER_KEY!),
    logger: consoleLogger(consoleLevel(settings.POSTLANE_LOG_LEVEL), { svc }),
  };
}
