/**
 * The Worker's bindings and settings: one schema, parsed once per isolate. A bad or missing
 * binding stops the Worker with a message naming it (every request answers 500 with that
 * message in the log) instead of failing later in a route. The Durable Objects parse the same
 * env, so the API and the hubs agree on every setting.
 */
import { z } from 'zod';
import { createClient } from '@libsql/client/web';
import { drizzle } from 'drizzle-orm/libsql/web';
import * as schema from '../store/schema.ts';
import { LibsqlStore } from '../store/libsql-store.ts';
import { guardStore } from '../store/guarded.ts';
import { gateWrites } from './write-gate.ts';
import { createSecrets } from '../secrets.ts';
import { consoleLogger, type Logger } from '../logger.ts';
import type { AppConfig, Secrets, Store } from '../ports.ts';
import { loadShapingPolicy, type ShapingPolicy } from '../../shared/policy/providers.ts';
import type { RateCounter } from './rate-counter.ts';
import type { LeaseHubObject } from './lease-hub.ts';

export interface WorkerBindings {
  LEASE_HUB: DurableObjectNamespace<LeaseHubObject>;
  RATE_COUNTER: DurableObjectNamespace<RateCounter>;
  [setting: string]: unknown;
}

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number) => z.coerce.number().int().min(min);
const region = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);

export const WorkerEnvSchema = z.object({
  /** libSQL over HTTP: `https://<db>.turso.io`, `libsql://…` or a self-hosted sqld `http://host:8080`. */
  DB_URL: z.string().regex(/^(https?|libsql):\/\//, 'must be an http(s):// or libsql:// URL (Workers reach libSQL over HTTP)'),
  /** Secret. Empty only for a local sqld without auth. */
  DB_AUTH_TOKEN: z.string().optional(),
  /** Secret: base64 of 32 bytes, the same key the DKIM private keys were sealed with. */
  MASTER_KEY: z.string().min(40, 'must be base64 of 32 bytes (wrangler secret put MASTER_KEY)'),
  /** Regions that have a lease hub: work with no region constraint is offered to all of them. */
  REGIONS: z.string().default('default').transform((s) => s.split(',').map((r) => r.trim()).filter(Boolean)).pipe(z.array(region).min(1)),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /**
   * Past this a store call fails and the API answers 503 + Retry-After (SPEC §8). Only a hung
   * store needs it (a down one refuses at once); too short, and a busy isolate's own queueing
   * reads as an outage. The same default as the Node edge.
   */
  STORE_TIMEOUT_MS: int(100).default(5000),
  /**
   * Write transactions one isolate sends to libSQL at once; more wait in the isolate (see
   * write-gate.ts: sqld stalls under contending writers). Raise it for a remote Turso, where
   * the round trip, not the server's single writer, bounds an isolate's writes.
   */
  STORE_WRITE_CONCURRENCY: int(1).default(1),
  MAX_MESSAGE_BYTES: int(1024).default(10 * 1024 * 1024),
  TENANT_RATE: int(1).default(5000),
  TENANT_BURST: int(1).default(20000),
  LANE_BACKLOG_LIMIT: int(1).default(1_000_000),
  LEASE_TTL_MS: int(500).default(60_000),
  HEARTBEAT_MS: int(100).default(10_000),
  /** How often a region's hub expires leases and offers retries that came due (its alarm). */
  HUB_TICK_MS: int(50).default(1000),
  RETRY_INITIAL_MS: int(1).optional(),
  RETRY_MAX_MS: int(1).optional(),
  REQUIRE_VERIFIED_DOMAIN: bool.default(false),
  /**
   * Operator overrides of the provider shaping table, as JSON: the document POSTLANE_SHAPING_FILE
   * holds on Node (rates per pool and per IP, connections, reply automation). Validated at start.
   */
  SHAPING_POLICY: z.string().optional(),
  /**
   * DNS-over-HTTPS resolver (JSON API) for the outreach recipient check at accept; `off` skips
   * the MX check (role and disposable checks still apply).
   */
  DOH_URL: z.union([z.literal('off'), z.string().url()]).default('https://cloudflare-dns.com/dns-query'),
});

export type WorkerSettings = z.infer<typeof WorkerEnvSchema> & { shapingPolicy?: ShapingPolicy };

export function parseWorkerEnv(env: Record<string, unknown>): WorkerSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string' && v !== ''));
  const result = WorkerEnvSchema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid Worker bindings:\n${lines.join('\n')}`);
  }
  for (const binding of ['LEASE_HUB', 'RATE_COUNTER']) {
    if (!env[binding]) throw new Error(`invalid Worker bindings:\n  ${binding}: Durable Object binding missing (see wrangler.toml)`);
  }
  return { ...result.data, shapingPolicy: result.data.SHAPING_POLICY ? parseShapingVar(result.data.SHAPING_POLICY) : undefined };
}

function parseShapingVar(text: string): ShapingPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`invalid Worker bindings:\n  SHAPING_POLICY: not JSON (${(error as Error).message}); give the shaping overrides document as a JSON string`);
  }
  try {
    return loadShapingPolicy(doc);
  } catch (error) {
    throw new Error(`invalid Worker bindings:\n  SHAPING_POLICY: ${(error as Error).message}`);
  }
}

export interface SharedDeps {
  settings: WorkerSettings;
  store: Store;
  secrets: Secrets;
  logger: Logger;
  config: AppConfig;
}

/** Store (libSQL over HTTP, guarded), secrets and logger from the parsed settings. */
export async function sharedDeps(env: Record<string, unknown>, svc: string): Promise<SharedDeps> {
  const settings = parseWorkerEnv(env);
  // The client's concurrency limiter queues calls behind each other's I/O; on Workers a call
  // released by another request's completion is never woken, so it must never queue.
  const client = gateWrites(createClient({ url: settings.DB_URL, authToken: settings.DB_AUTH_TOKEN, concurrency: 1_000_000 }), {
    concurrency: settings.STORE_WRITE_CONCURRENCY,
    maxWaitMs: settings.STORE_TIMEOUT_MS,
  });
  const store = guardStore(new LibsqlStore(drizzle(client, { schema }), { groupCommit: false }), settings.STORE_TIMEOUT_MS);
  return {
    settings,
    store,
    secrets: await createSecrets(settings.MASTER_KEY),
    logger: consoleLogger(settings.LOG_LEVEL, { svc }),
    config: {
      maxMessageBytes: settings.MAX_MESSAGE_BYTES,
      tenantRatePerSec: settings.TENANT_RATE,
      tenantBurst: settings.TENANT_BURST,
      laneBacklogLimit: settings.LANE_BACKLOG_LIMIT,
      leaseTtlMs: settings.LEASE_TTL_MS,
      heartbeatMs: settings.HEARTBEAT_MS,
      requireVerifiedDomain: settings.REQUIRE_VERIFIED_DOMAIN,
      ...(settings.shapingPolicy ? { shapingPolicy: settings.shapingPolicy } : {}),
    },
  };
}
