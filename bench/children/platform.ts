/**
 * Bench child: the embedded platform as `npm start` runs it — the edge on Node (libSQL file in
 * WAL, migrations, bootstrap) and, when asked, one MtaNode connected over a real WebSocket on
 * loopback, delivering through static routes. Configured by the BENCH_PLATFORM env (JSON).
 * IPC: sends {type:'ready', url, apiKey}; answers {type:'stats'} with node and store counts.
 */
import { join } from 'node:path';
import { parseNodeEnv } from '../../edge/adapters/node-config.ts';
import { startEdge } from '../../edge/adapters/node-server.ts';
import { consoleLogger } from '../../edge/logger.ts';
import { MtaNode, type MtaNodeOptions } from '../../mta-node/node.ts';
import { fail, onShutdown, send } from './ipc.ts';

export interface PlatformChildConfig {
  dataDir: string;
  /** Edge settings (edge/adapters/node-config.ts), merged over the bench defaults. */
  edgeEnv: Record<string, string>;
  /** Start one MtaNode; null = edge only (ingest runs). */
  node: null | {
    routes: Record<string, { host: string; port: number }>;
    capacity: number;
    dkimWorkers?: number;
    limits: { maxConnections: number; maxMessagesPerConnection: number };
    journalFsync: boolean;
  };
}

const cfg = JSON.parse(process.env.BENCH_PLATFORM ?? 'null') as PlatformChildConfig | null;
if (!cfg) fail(new Error('BENCH_PLATFORM is not set'));

try {
  const quiet = consoleLogger('silent');
  const env = parseNodeEnv({ PORT: '0', HOST: '127.0.0.1', POSTLANE_DATA_DIR: cfg.dataDir, POSTLANE_LOG_LEVEL: 'silent', ...cfg.edgeEnv });
  const edge = await startEdge(env, { logger: quiet });
  let node: MtaNode | null = null;
  if (cfg.node) {
    node = new MtaNode({
      edge: edge.wsUrl,
      token: edge.nodeToken,
      region: edge.region,
      nodeId: 'bench-node',
      ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'mta.bench.test' }],
      capacity: cfg.node.capacity,
      journalPath: join(cfg.dataDir, 'node-bench.journal'),
      routes: cfg.node.routes,
      timeouts: { connectMs: 5_000, greetingMs: 10_000, commandMs: 10_000, dataMs: 30_000 },
      limits: cfg.node.limits,
      ...(cfg.node.dkimWorkers !== undefined ? { dkimWorkers: cfg.node.dkimWorkers } : {}),
      journal: { fsync: cfg.node.journalFsync },
      logger: quiet as never,
    } as MtaNodeOptions);
    await node.start();
    await node.whenConnected();
  }

  onShutdown(async () => {
    await node?.stop();
    await edge.close();
  });

  process.on('message', async (m: any) => {
    if (m?.type !== 'stats') return;
    try {
      const q = async (sql: string) => (await edge.client.execute(sql)).rows;
      const jobs = await q('SELECT state, count(*) AS n FROM delivery_jobs GROUP BY state');
      const size = await q('SELECT avg(size_bytes) AS avg, count(*) AS n FROM messages');
      send({
        type: 'stats',
        node: node ? { ...node.stats, openConnections: node.openConnections } : null,
        hub: edge.hub.summaries().map((n) => ({ nodeId: n.nodeId, credits: n.credits, leased: n.leased })),
        jobs: Object.fromEntries(jobs.map((r) => [String(r.state), Number(r.n)])),
        messages: Number(size[0]?.n ?? 0),
        avgMessageBytes: Math.round(Number(size[0]?.avg ?? 0)),
        rssMb: Math.round(process.memoryUsage().rss / 1e6),
      });
    } catch (err) {
      send({ type: 'error', message: String(err) });
    }
  });

  send({ type: 'ready', url: edge.url, apiKey: edge.apiKey, pid: process.pid });
} catch (err) {
  fail(err);
}
