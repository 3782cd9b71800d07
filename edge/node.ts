/**
 * `npm start`: the embedded platform. The edge (API + lease hub) on Node with a libSQL file, and
 * one MTA node in the same process, connected to the hub over a real WebSocket on loopback —
 * the same protocol a remote node speaks. Settings: edge/adapters/node-config.ts (env), and the
 * node's POSTLANE_ROUTES / POSTLANE_DNS_SERVERS (mta-node/config.ts).
 */
import { join, resolve } from 'node:path';
import pino from 'pino';
import { parseNodeEnv } from './adapters/node-config.ts';
import { startEdge } from './adapters/node-server.ts';
import { MtaNode } from '../mta-node/node.ts';
import { loadConfig } from '../mta-node/config.ts';

let env;
try {
  env = parseNodeEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

const logger = pino({ level: env.POSTLANE_LOG_LEVEL });
const edge = await startEdge(env, { logger: logger.child({ svc: 'edge' }) });

let node: MtaNode | null = null;
if (env.POSTLANE_EMBEDDED_NODE) {
  // The embedded node sends from loopback by default; POSTLANE_NODE_IPS (the --ip syntax,
  // comma-separated) names real source IPs for a one-box production install.
  const ipFlags = (process.env.POSTLANE_NODE_IPS ?? '127.0.0.1=default').split(',').flatMap((ip) => ['--ip', ip.trim()]);
  const config = loadConfig([
    '--edge', edge.wsUrl,
    '--token', edge.nodeToken,
    '--region', edge.region,
    '--node-id', process.env.POSTLANE_NODE_ID ?? 'embedded',
    '--journal', join(resolve(env.POSTLANE_DATA_DIR), 'node-embedded.journal'),
    ...ipFlags,
  ]);
  node = new MtaNode({ ...config, logger: logger.child({ svc: 'mta-node' }) });
  await node.start();
}

logger.info({ url: edge.url, embeddedNode: Boolean(node) }, 'Postlane is running');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping');
    void (async () => {
      await node?.stop();
      await edge.close();
      process.exit(0);
    })();
  });
}
