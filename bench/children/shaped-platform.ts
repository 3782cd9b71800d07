/**
 * Bench child for the shaped scenario (bench/shaped.ts): the edge on Node (libSQL file in WAL)
 * with the Shaper set up by the parent — or with no Shaper at all, the naive baseline — and one
 * MtaNode with two source IPs on loopback, delivering to the provider simulator through static
 * routes. Configured by BENCH_SHAPED (JSON).
 * IPC: sends {type:'ready', url, apiKey}; answers {type:'stats'} with what the store recorded.
 */
import { join } from 'node:path';
import { parseNodeEnv } from '../../edge/adapters/node-config.ts';
import { startEdge } from '../../edge/adapters/node-server.ts';
import { consoleLogger } from '../../edge/logger.ts';
import { MtaNode, type MtaNodeOptions } from '../../mta-node/node.ts';
import { aimdConfig, type AimdPolicy } from '../../shared/policy/aimd.ts';
import { breakerConfig, type BreakerPolicy } from '../../shared/policy/breaker.ts';
import { loadShapingPolicy } from '../../shared/policy/providers.ts';
import type { PoolLimits } from '../../mta-node/smtp-pool.ts';
import { fail, onShutdown, send } from './ipc.ts';

export interface ShapedPlatformConfig {
  dataDir: string;
  edgeEnv: Record<string, string>;
  /** null: no Shaper (the hub leases as fast as the node pulls). */
  shaper: null | { table: unknown; aimd: AimdPolicy; breaker: BreakerPolicy };
  node: {
    routes: Record<string, { host: string; port: number }>;
    ips: string[];
    capacity: number;
    limits: Partial<PoolLimits>;
    providerLimits: Record<string, Partial<PoolLimits>>;
  };
}

const cfg = JSON.parse(process.env.BENCH_SHAPED ?? 'null') as ShapedPlatformConfig | null;
if (!cfg) fail(new Error('BENCH_SHAPED is not set'));

try {
  const quiet = consoleLogger('silent');
  const env = parseNodeEnv({ PORT: '0', HOST: '127.0.0.1', POSTLANE_DATA_DIR: cfg.dataDir, POSTLANE_LOG_LEVEL: 'silent', ...cfg.edgeEnv });
  const edge = await startEdge(env, {
    logger: quiet,
    ...(cfg.shaper
      ? { shaper: { policy: loadShapingPolicy(cfg.shaper.table), aimd: aimdConfig(cfg.shaper.aimd), breaker: breakerConfig(cfg.shaper.breaker) } }
      : { noShaper: true }),
  });
  const node = new MtaNode({
    edge: edge.wsUrl,
    token: edge.nodeToken,
    region: edge.region,
    nodeId: 'bench-shaped',
    ips: cfg.node.ips.map((address) => ({ address, pool: 'default', ehlo: 'mta.bench.test' })),
    capacity: cfg.node.capacity,
    journalPath: join(cfg.dataDir, 'node.journal'),
    routes: cfg.node.routes,
    timeouts: { connectMs: 5_000, greetingMs: 10_000, commandMs: 10_000, dataMs: 30_000 },
    limits: cfg.node.limits,
    providerLimits: cfg.node.providerLimits,
    dkimWorkers: 1,
    logger: quiet as never,
  } as MtaNodeOptions);
  await node.start();
  await node.whenConnected();

  onShutdown(async () => {
    await node.stop();
    await edge.close();
  });

  process.on('message', async (m: any) => {
    if (m?.type !== 'stats') return;
    try {
      const q = async (sql: string) => (await edge.client.execute(sql)).rows;
      const jobs = await q('SELECT provider, state, count(*) AS n FROM delivery_jobs GROUP BY provider, state');
      const events = await q('SELECT type, count(*) AS n FROM message_events GROUP BY type');
      const classes = await q(`SELECT json_extract(data, '$.class') AS class, count(*) AS n FROM message_events WHERE type = 'deferred' GROUP BY 1`);
      const policy = await q('SELECT scope, key, type, from_state, to_state, reason, at FROM policy_events ORDER BY id');
      send({
        type: 'stats',
        jobs: jobs.map((r) => ({ provider: String(r.provider), state: String(r.state), n: Number(r.n) })),
        events: Object.fromEntries(events.map((r) => [String(r.type), Number(r.n)])),
        deferredClasses: Object.fromEntries(classes.map((r) => [String(r.class), Number(r.n)])),
        policy: policy.map((r) => ({ scope: String(r.scope), key: String(r.key), type: String(r.type), from: r.from_state as string | null, to: r.to_state as string | null, reason: String(r.reason), at: Number(r.at) })),
        node: { ...node.stats, openConnections: node.openConnections },
      });
    } catch (err) {
      send({ type: 'error', message: String(err) });
    }
  });

  send({ type: 'ready', url: edge.url, apiKey: edge.apiKey });
} catch (err) {
  fail(err);
}
