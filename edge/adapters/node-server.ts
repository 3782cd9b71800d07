/**
 * The edge on Node: binds the ports (libSQL via @libsql/client, in-process counters and lease
 * hub, prom-client, pino), applies migrations, bootstraps the first tenant, and serves the app
 * with @hono/node-server plus a `ws` endpoint for MTA nodes on the same port.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { preloadNodeBodies } from './node-body.ts';
import { createClient, type Client } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql/node';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { WebSocketServer } from 'ws';
import pino from 'pino';
import { createApp } from '../app.ts';
import { LeaseHub, type NodeConnection } from '../hub/hub.ts';
import { LibsqlStore } from '../store/libsql-store.ts';
import { guardStore } from '../store/guarded.ts';
import * as schema from '../store/schema.ts';
import { createSecrets, newMasterKey } from '../secrets.ts';
import { MemoryCounters } from './memory-counters.ts';
import { Shaper, type ShaperOptions } from '../hub/shaping.ts';
import { WarmupGate } from '../hub/warmup.ts';
import { loadShapingPolicy } from '../../shared/policy/providers.ts';
import { promMetrics } from './prom-metrics.ts';
import { dnsMailDomains } from './dns-mail-domains.ts';
import { policyFor } from '../services/policy.ts';
import { BUILTIN_POLICY } from '../../shared/policy/defaults.ts';
import type { AppDeps, LeaseHubPort, Logger, Store } from '../ports.ts';
import type { NodeEnv } from './node-config.ts';
import { newId, newSecret, sha256Hex } from '../../shared/ids.ts';

/** Bodies up to this size are read straight off the socket (node-body.ts); larger ones stream. */
const NODE_BODY_PRELOAD_BYTES = 1024 * 1024;

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
const CONNECT_PATH = '/v1/nodes/connect';
/** A lease frame can carry many message bodies; bounded so one frame cannot exhaust memory. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface EdgeServer {
  url: string;
  wsUrl: string;
  port: number;
  apiKey: string;
  nodeToken: string;
  region: string;
  store: Store;
  hub: LeaseHub;
  client: Client;
  logger: Logger;
  close(): Promise<void>;
}

function readOrCreate(path: string, make: () => string, onCreate?: (value: string) => void): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  onCreate?.(value);
  return value;
}

/** Opens libSQL and applies the committed migrations (SPEC §1: drizzle-kit output, applied at start). */
export async function openDatabase(url: string, authToken?: string) {
  const client = createClient({ url, authToken });
  if (url.startsWith('file:')) {
    // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = NORMAL');
    await client.execute('PRAGMA busy_timeout = 5000');
  }
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { client, db };
}

/** First start on an empty store: the default tenant, an admin key, the default pool. */
export async function bootstrap(store: LibsqlStore, env: NodeEnv, dataDir: string, logger: Logger) {
  const { db } = store;
  const now = Date.now();
  await db.insert(schema.tenants).values({ id: 'default', name: 'default', createdAt: now }).onConflictDoNothing();
  await store.ensurePool('default', null, now);

  let apiKey = env.POSTLANE_API_KEY;
  if (!apiKey) {
    apiKey = readOrCreate(join(dataDir, 'admin.key'), () => newSecret('pl'), (key) => {
      // Printed once: the key is stored only as a hash.
      process.stdout.write(`\nPostlane admin API key (saved to ${join(dataDir, 'admin.key')}):\n  ${key}\n\n`);
    });
  }
  await db
    .insert(schema.apiKeys)
    .values({ id: newId('key'), tenantId: 'default', keyHash: await sha256Hex(apiKey), prefix: apiKey.slice(0, 8), scopes: ['admin', 'send', 'read'], name: 'bootstrap', createdAt: now })
    .onConflictDoNothing();

  const nodeToken = env.POSTLANE_NODE_TOKEN ?? readOrCreate(join(dataDir, 'node.token'), () => newSecret('plnode'));
  const hash = await sha256Hex(nodeToken);
  if (!(await store.findNodeToken(hash))) {
    await store.createNodeToken({ id: newId('ntk'), tokenHash: hash, region: env.POSTLANE_REGION, allowedIps: ['*'], name: 'embedded', now });
  }
  logger.debug({ dataDir }, 'bootstrap done');
  return { apiKey, nodeToken };
}

export interface StartEdgeOptions {
  logger?: Logger;
  /**
   * Shaping policy for this edge: provider table, AIMD and breaker settings, lane weights. Each
   * key left out keeps the Shaper's defaults; the counters are always the edge's own.
   */
  shaper?: Omit<ShaperOptions, 'counters'>;
  /** No Shaper at all: the hub leases as fast as nodes pull (the bench's naive baseline). */
  noShaper?: boolean;
}

export async function startEdge(env: NodeEnv, options: StartEdgeOptions = {}): Promise<EdgeServer> {
  const logger: Logger = options.logger ?? pino({ level: env.POSTLANE_LOG_LEVEL, base: { svc: 'edge' } });
  const dataDir = resolve(env.POSTLANE_DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const dbUrl = env.POSTLANE_DB_URL ?? `file:${join(dataDir, 'postlane.db')}`;
  const { client, db } = await openDatabase(dbUrl, env.POSTLANE_DB_AUTH_TOKEN);
  const rawStore = new LibsqlStore(db);
  const { apiKey, nodeToken } = await bootstrap(rawStore, env, dataDir, logger);
  const store = guardStore(rawStore, env.POSTLANE_STORE_TIMEOUT_MS);

  const masterKey = env.POSTLANE_MASTER_KEY ?? readOrCreate(join(dataDir, 'master.key'), newMasterKey);
  const secrets = await createSecrets(masterKey);
  const metrics = promMetrics();
  const counters = new MemoryCounters();
  // Operators layer their own provider table over the shipped one (KumoMTA-style), from a file.
  const policy = env.POSTLANE_SHAPING_FILE ? loadShapingPolicy(JSON.parse(readFileSync(env.POSTLANE_SHAPING_FILE, 'utf8'))) : undefined;
  // Warm-ups of pools and IPs, enforced by the Shaper; counts written back on the hub's tick.
  const warmup = new WarmupGate({ store, logger: logger.child({ svc: 'warmup' }) });
  // Lane budgets read the same tenant policies (and cache) as the API: bound once deps exist.
  let appDeps: AppDeps | null = null;
  // `noShaper`: the naive baseline of the bench (lease as fast as nodes pull), never a setting.
  const shaper = options.noShaper
    ? null
    : new Shaper({
        warmup,
        ...(policy ? { policy } : {}),
        lanePolicy: async (at, now) => (appDeps ? policyFor(appDeps, at, now) : BUILTIN_POLICY),
        ...options.shaper,
        counters,
      });
  const hub = new LeaseHub({
    ...(shaper ? { shaper } : {}),
    store,
    secrets,
    logger: logger.child({ svc: 'hub' }),
    metrics,
    leaseTtlMs: env.POSTLANE_LEASE_TTL_MS,
    heartbeatMs: env.POSTLANE_HEARTBEAT_MS,
    retryOverride: {
      ...(env.POSTLANE_RETRY_INITIAL_MS ? { initialMs: env.POSTLANE_RETRY_INITIAL_MS } : {}),
      ...(env.POSTLANE_RETRY_MAX_MS ? { maxDelayMs: env.POSTLANE_RETRY_MAX_MS } : {}),
    },
  });
  await hub.restoreShaping();
  hub.start();

  const hubPort: LeaseHubPort = {
    notifyWork: () => hub.notifyWork(),
    // On Node the upgrade is taken by the `ws` server below before Hono sees the request.
    connect: async () => new Response('WebSocket upgrade required', { status: 426, headers: { Upgrade: 'websocket' } }),
    nodes: async () => hub.summaries(),
    reputation: async () => shaper?.snapshot(Date.now()) ?? { breakers: [], rates: [], suspended_ips: [] },
    warmups: async () => warmup.snapshot(),
    warmupsChanged: async () => warmup.reload(Date.now(), true),
    feedback: (signal) => hub.feedback(signal),
  };

  const deps: AppDeps = {
    store,
    counters,
    hub: hubPort,
    secrets,
    logger,
    metrics,
    mailDomains: dnsMailDomains({ servers: env.POSTLANE_DNS_SERVERS }),
    config: {
      maxMessageBytes: env.POSTLANE_MAX_MESSAGE_BYTES,
      tenantRatePerSec: env.POSTLANE_TENANT_RATE,
      tenantBurst: env.POSTLANE_TENANT_BURST,
      laneBacklogLimit: env.POSTLANE_LANE_BACKLOG_LIMIT,
      leaseTtlMs: env.POSTLANE_LEASE_TTL_MS,
      heartbeatMs: env.POSTLANE_HEARTBEAT_MS,
      requireVerifiedDomain: env.POSTLANE_REQUIRE_VERIFIED_DOMAIN,
      shapingPolicy: options.shaper?.policy ?? policy,
    },
  };
  appDeps = deps;
  const app = createApp(deps, { runtime: [preloadNodeBodies(NODE_BODY_PRELOAD_BYTES)] });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const server = await new Promise<Server>((resolveServer) => {
    const s = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, () => resolveServer(s as Server));
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== CONNECT_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    void (async () => {
      const token = match ? await store.findNodeToken(await sha256Hex(match[1])).catch(() => null) : null;
      if (!token) {
        logger.warn({ remote: req.socket.remoteAddress }, 'node connection refused: bad or missing node token');
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const conn: NodeConnection = { send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) };
        hub.open(conn, token);
        ws.on('message', (data) => void hub.message(conn, data.toString()));
        ws.on('close', () => hub.closed(conn));
        ws.on('error', (err) => logger.warn({ err }, 'node socket error'));
      });
    })();
  });

  const port = (server.address() as AddressInfo).port;
  const host = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  logger.info({ port, db: dbUrl.startsWith('file:') ? 'file' : dbUrl }, 'edge listening');

  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}${CONNECT_PATH}`,
    port,
    apiKey,
    nodeToken,
    region: env.POSTLANE_REGION,
    store,
    hub,
    client,
    logger,
    async close() {
      hub.stop();
      // Today's warm-up counts since the last tick, so a restart resumes where this one stopped.
      await warmup.flush(Date.now()).catch((err) => logger.warn({ err }, 'warm-up counts not written at close'));
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      await closed;
      client.close();
    },
  };
}
