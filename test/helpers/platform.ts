/**
 * Starts the embedded platform for a test: the real edge on Node (libSQL file in a temp dir,
 * port 0), and MTA nodes connected over a real WebSocket, delivering through static routes to
 * SMTP sinks on loopback. Everything a test starts, `stop()` stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNodeEnv } from '../../edge/adapters/node-config.ts';
import { startEdge, type EdgeServer, type StartEdgeOptions } from '../../edge/adapters/node-server.ts';
import { MtaNode, type MtaNodeOptions } from '../../mta-node/node.ts';
import { consoleLogger } from '../../edge/logger.ts';
import { startDnsServer, type TestDnsServer } from './dns-server.ts';

export interface Platform {
  edge: EdgeServer;
  /** The edge's DNS (recipient checks): every name has an MX unless a test sets its zone entry. */
  dns: TestDnsServer;
  dataDir: string;
  api<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: Headers }>;
  startNode(overrides?: Partial<MtaNodeOptions>): Promise<MtaNode>;
  restartEdge(): Promise<void>;
  stop(): Promise<void>;
}

export interface PlatformOptions {
  env?: Record<string, string>;
  /** Static route for every domain: the sink's port on 127.0.0.1. */
  sinkPort?: number;
  dataDir?: string;
  /** Shaping policy overrides for the edge (provider rates, AIMD, breakers). */
  shaper?: StartEdgeOptions['shaper'];
  /** The edge's logger (default: silent unless POSTLANE_TEST_LOG is set). */
  logger?: StartEdgeOptions['logger'];
}

const quiet = consoleLogger((process.env.POSTLANE_TEST_LOG as 'error') ?? 'silent');

export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'postlane-test-'));
  const dns = await startDnsServer({ '*': { mx: [{ preference: 10, exchange: 'mx.test' }] } });
  const env = parseNodeEnv({
    PORT: '0',
    POSTLANE_DATA_DIR: dataDir,
    POSTLANE_LOG_LEVEL: 'silent',
    POSTLANE_LEASE_TTL_MS: '3000',
    POSTLANE_HEARTBEAT_MS: '500',
    POSTLANE_RETRY_INITIAL_MS: '200',
    POSTLANE_RETRY_MAX_MS: '1000',
    POSTLANE_DNS_SERVERS: dns.address,
    ...opts.env,
  });
  const edgeLogger = opts.logger ?? quiet;
  let edge = await startEdge(env, { logger: edgeLogger, shaper: opts.shaper });
  const nodes: MtaNode[] = [];
  let nodeCount = 0;

  const platform: Platform = {
    get edge() {
      return edge;
    },
    dataDir,
    dns,
    async api(method, path, body, headers = {}) {
      const res = await fetch(`${edge.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${edge.apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async startNode(overrides = {}) {
      nodeCount++;
      const node = new MtaNode({
        edge: edge.wsUrl,
        token: edge.nodeToken,
        region: edge.region,
        nodeId: `node-${nodeCount}`,
        ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'mta.test' }],
        capacity: 100,
        journalPath: join(dataDir, `node-${nodeCount}.journal`),
        routes: opts.sinkPort ? { '*': { host: '127.0.0.1', port: opts.sinkPort } } : undefined,
        timeouts: { connectMs: 2000, greetingMs: 2000, commandMs: 2000, dataMs: 5000 },
        reconnectMinMs: 100,
        reconnectMaxMs: 500,
        dkimWorkers: 1,
        logger: quiet as never,
        ...overrides,
      } as MtaNodeOptions);
      await node.start();
      nodes.push(node);
      return node;
    },
    async restartEdge() {
      await edge.close();
      // This process is also the client: let its event loop see the closed keep-alive sockets
      // (FIN) before the next request, or fetch would reuse one. The restart itself may finish
      // without ever polling I/O (the embedded libSQL driver is synchronous).
      await new Promise((r) => setTimeout(r, 50));
      edge = await startEdge({ ...env, PORT: edge.port }, { logger: edgeLogger, shaper: opts.shaper });
    },
    async stop() {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      await edge.close();
      await dns.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return platform;
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Registers a sending domain and returns its DNS records (for DKIM verification). */
export async function addDomain(p: Platform, domain: string, algorithm = 'rsa-sha256') {
  const res = await p.api('POST', '/v1/domains', { domain, dkim_algorithm: algorithm });
  if (res.status !== 201 && res.status !== 200) throw new Error(`domain create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { dkim_selector: string; dns_records: Array<{ purpose: string; name: string; value: string }> };
}
