/**
 * The edge on Node: binds the runtime pieces (libSQL via @libsql/client, in-process counters,
 * prom-client, pino, node:dns) and hands them to the composition root (edge/compose.ts); then
 * applies migrations, bootstraps the first tenant, and serves the app with @hono/node-server
 * plus a `ws` endpoint for MTA nodes on the same port.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { serve } from '@hono/node-server';
import { createClient, type Client } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql/node';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { WebSocketServer, type WebSocket } from 'ws';
import pino from 'pino';
import { preloadNodeBodies } from './node-body.ts';
import { createApp } from '../app.ts';
import { composeEdge } from '../compose.ts';
import type { LeaseHub, NodeConnection } from '../hub/hub.ts';
import type { ShaperOptions } from '../hub/shaping.ts';
import { LibsqlStore } from '../store/libsql-store.ts';
import { guardStore } from '../store/guarded.ts';
import * as schema from '../store/schema.ts';
import { createSecrets, newMasterKey } from '../secrets.ts';
import { nodeUplotSource } from './ui-assets.ts';
import { MemoryCounters } from './memory-counters.ts';
import { promMetrics } from './prom-metrics.ts';
import type { Registry } from 'prom-client';
import { dnsMailDomains } from './dns-mail-domains.ts';
import { nodeDnsRecords } from './dns-resolver.ts';
import { authTargets, recheckDue } from '../services/domain-check.ts';
import type { AppDeps } from '../ports/app.ts';
import { startWebhooks } from './webhooks-node.ts';
import { AlertEvaluator } from '../alerts/evaluator.ts';
import { AlertService } from '../services/alerts.ts';
import { startSmtpListeners, type SmtpListeners } from './smtp-submission/index.ts';
import { authenticateNode, NODE_AUTH_RETRY_AFTER_SECONDS } from '../services/node-auth.ts';
import type { Store, NodeTokenRecord } from '../ports/store.ts';
import type { Logger } from '../logger.ts';
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
  /** The edge's Prometheus registry: the embedded MTA node registers its series here, so one /metrics shows both. */
  metricsRegistry: Registry;
  /** SMTP submission and intake (edge/adapters/smtp-submission/): their bound ports, null when off. */
  smtp: Omit<SmtpListeners, 'close'>;
  close(): Promise<void>;
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

function readOrCreate(path: string, make: () => string, onCreate?: (value: string) => void): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  onCreate?.(value);
  return value;
}

/** The data directory (database file, generated keys), created owner-only. */
function dataDirOf(env: NodeEnv): string {
  const dataDir = resolve(env.POSTLANE_DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return dataDir;
}

/** POSTLANE_MASTER_KEY, or the one generated into the data dir on first start. */
function masterKeyOf(env: NodeEnv, dataDir: string): string {
  return env.POSTLANE_MASTER_KEY ?? readOrCreate(join(dataDir, 'master.key'), newMasterKey);
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

const refusal = (status: string, headers: string[] = []) => [`HTTP/1.1 ${status}`, 'Connection: close', 'Content-Length: 0', ...headers, '', ''].join('\r\n');

/**
 * MTA nodes' WebSocket upgrades on `server`: the token is checked (edge/services/node-auth.ts)
 * before the socket is accepted; a bad token gets 401, a store that cannot answer 503 with
 * Retry-After (the node retries), and an accepted socket is handed to the hub.
 */
export function acceptNodeUpgrades(server: Server, opts: { store: Pick<Store, 'findNodeToken'>; hub: LeaseHub; logger: Logger }): WebSocketServer {
  const { hub, logger } = opts;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const attach = (ws: WebSocket, token: NodeTokenRecord) => {
    const conn: NodeConnection = { send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) };
    hub.open(conn, token);
    ws.on('message', (data) => void hub.message(conn, data.toString()));
    ws.on('close', () => hub.closed(conn));
    ws.on('error', (err) => logger.warn({ err }, 'node socket error'));
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== CONNECT_PATH) return void socket.end(refusal('404 Not Found'));
    // A node that hangs up while its token is looked up is no error of ours.
    const ignore = () => {};
    socket.on('error', ignore);
    authenticateNode(opts.store, req.headers.authorization).then(
      (auth) => {
        socket.off('error', ignore);
        if (auth === 'unavailable') {
          logger.warn({ remote: req.socket.remoteAddress }, 'node connection deferred: the store is unavailable');
          return void socket.end(refusal('503 Service Unavailable', [`Retry-After: ${NODE_AUTH_RETRY_AFTER_SECONDS}`]));
        }
        if (auth === 'unauthorized') {
          logger.warn({ remote: req.socket.remoteAddress }, 'node connection refused: bad or missing node token');
          return void socket.end(refusal('401 Unauthorized'));
        }
        wss.handleUpgrade(req, socket, head, (ws) => attach(ws, auth));
      },
      (err) => {
        logger.error({ err }, 'node token check failed');
        socket.end(refusal('500 Internal Server Error'));
      },
    );
  });
  return wss;
}

/**
 * Every POSTLANE_DOMAIN_CHECK_MS, the sending domains not checked for that long are checked
 * again (a tenth of the interval between rounds, so a large set spreads over the interval).
 */
function scheduleDomainChecks(deps: AppDeps, intervalMs: number): { stop(): void } {
  let running = false;
  const round = async () => {
    if (running || !deps.dnsRecords) return;
    running = true;
    try {
      const targets = await authTargets(deps);
      await recheckDue({ store: deps.store, dns: deps.dnsRecords, logger: deps.logger }, targets, Date.now(), intervalMs);
    } catch (err) {
      deps.logger.warn({ err }, 'scheduled domain checks failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(round, Math.max(1_000, Math.floor(intervalMs / 10)));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], env: NodeEnv): Promise<Server> {
  return new Promise<Server>((resolveServer) => {
    const s = serve({ fetch, port: env.PORT, hostname: env.HOST }, () => resolveServer(s as Server));
  });
}

export async function startEdge(env: NodeEnv, options: StartEdgeOptions = {}): Promise<EdgeServer> {
  const logger: Logger = options.logger ?? pino({ level: env.POSTLANE_LOG_LEVEL, base: { svc: 'edge' } });
  const dataDir = dataDirOf(env);
  const dbUrl = env.POSTLANE_DB_URL ?? `file:${join(dataDir, 'postlane.db')}`;
  const { client, db } = await openDatabase(dbUrl, env.POSTLANE_DB_AUTH_TOKEN);
  const rawStore = new LibsqlStore(db);
  const { apiKey, nodeToken } = await bootstrap(rawStore, env, dataDir, logger);
  const store = guardStore(rawStore, env.POSTLANE_STORE_TIMEOUT_MS);

  const metrics = promMetrics();
  const { deps, hub } = composeEdge(env, {
    store,
    counters: new MemoryCounters(),
    secrets: await createSecrets(masterKeyOf(env, dataDir)),
    logger,
    metrics,
    mailDomains: dnsMailDomains({ servers: env.POSTLANE_DNS_SERVERS }),
    dnsRecords: nodeDnsRecords({ servers: env.POSTLANE_DNS_SERVERS, queryTimeoutMs: 2_000, tries: 1 }),
    ...(options.noShaper ? { shaping: false as const } : options.shaper ? { shaping: options.shaper } : {}),
  });
  await hub.hub.restoreShaping();
  hub.hub.start(hub.tickMs);
  const domainChecks = scheduleDomainChecks(deps, env.POSTLANE_DOMAIN_CHECK_MS);
  // Webhooks: the fan-out over message_events and the sender (edge/webhooks/), in this process.
  const webhooks = startWebhooks(env, deps);
  // Alerts: the rules evaluated over the rollups on a timer; raised alerts go out through the webhooks above.
  const alerts = new AlertEvaluator(new AlertService(store, logger.child({ component: 'alerts' }), env.POSTLANE_BASELINE_DAYS), logger, env.POSTLANE_ALERT_INTERVAL_MS);
  alerts.start();
  deps.webhooks = webhooks.config;

  const app = createApp(deps, { runtime: [preloadNodeBodies(NODE_BODY_PRELOAD_BYTES)], uplot: nodeUplotSource() });
  // SMTP submission calls the app in-process: a message takes the route's send path.
  const smtp = await startSmtpListeners(env, { deps, fetch: app.fetch, logger });
  const server = await listen(app.fetch, env);
  const wss = acceptNodeUpgrades(server, { store, hub: hub.hub, logger });
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
    hub: hub.hub,
    client,
    logger,
    metricsRegistry: metrics.registry,
    smtp: { submissionPort: smtp.submissionPort, submissionTlsPort: smtp.submissionTlsPort, intakePort: smtp.intakePort, cert: smtp.cert },
    async close() {
      // First: a submission in progress finishes (or is refused) while the store is still open.
      await smtp.close();
      hub.hub.stop();
      domainChecks.stop();
      await alerts.stop();
      await webhooks.sender.stop();
      // Today's warm-up counts since the last tick, so a restart resumes where this one stopped.
      await hub.warmup.flush(Date.now()).catch((err) => logger.warn({ err }, 'warm-up counts not written at close'));
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      await closed;
      client.close();
    },
  };
}
