/**
 * `npm start`: the embedded platform. The edge (API + lease hub) on Node with a libSQL file, and
 * one MTA node in the same process, connected to the hub over a real WebSocket on loopback —
 * the same protocol a remote node speaks. Settings: edge/settings.ts (env), and the node's
 * POSTLANE_ROUTES / POSTLANE_DNS_SERVERS (mta-node/config.ts). Every setting, the embedded
 * node's included, is checked before anything starts: a bad one exits 2 naming it.
 */
import { join, resolve } from 'node:path';
import pino from 'pino';
import { parseNodeEnv, type NodeEnv } from './adapters/node-config.ts';
import { startEdge } from './adapters/node-server.ts';
import { effectiveSettings } from './settings.ts';
import { MtaNode } from '../mta-node/node.ts';
import { loadConfig, type NodeConfig } from '../mta-node/config.ts';

/** The embedded node's flags come from these edge settings: its errors name them. */
const FLAG_SETTINGS: Record<string, string> = { '--ip': 'POSTLANE_NODE_IPS', '--node-id': 'POSTLANE_NODE_ID', '--region': 'POSTLANE_REGION', '--token': 'POSTLANE_NODE_TOKEN' };

/** The embedded node's config; edge URL and token are placeholders until the edge listens. */
function embeddedNodeConfig(env: NodeEnv): NodeConfig {
  try {
    return loadConfig([
      '--edge', 'ws://127.0.0.1/v1/nodes/connect',
      '--token', env.POSTLANE_NODE_TOKEN ?? 'pending',
      '--region', env.POSTLANE_REGION,
      '--node-id', env.POSTLANE_NODE_ID,
      '--journal', join(resolve(env.POSTLANE_DATA_DIR), 'node-embedded.journal'),
      ...env.POSTLANE_NODE_IPS.flatMap((ip) => ['--ip', ip]),
    ]);
  } catch (error) {
    throw new Error((error as Error).message.replace(/^( {2})(--[a-z-]+)/gm, (_, pad, flag) => `${pad}${FLAG_SETTINGS[flag] ?? flag}`));
  }
}

let env: NodeEnv;
let nodeConfig: NodeConfig | null;
try {
  env = parseNodeEnv(process.env);
  nodeConfig = env.POSTLANE_EMBEDDED_NODE ? embeddedNodeConfig(env) : null;
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

// Readable lines in a terminal (pino-pretty, in a worker thread), JSON lines otherwise.
const logger = pino({ level: env.POSTLANE_LOG_LEVEL, ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}) });
const edge = await startEdge(env, { logger: logger.child({ svc: 'edge' }) }).catch((error: Error) => {
  logger.fatal({ err: error }, 'the edge could not start');
  process.exit(1);
});

let node: MtaNode | null = null;
if (nodeConfig) {
  node = new MtaNode({ ...nodeConfig, edge: edge.wsUrl, token: edge.nodeToken, registry: edge.metricsRegistry, logger: logger.child({ svc: 'mta-node' }) });
  await node.start();
}

logger.info({ url: edge.url, embeddedNode: Boolean(node), smtp: { submission: edge.smtp.submissionPort, submissionTls: edge.smtp.submissionTlsPort, intake: edge.smtp.intakePort }, settings: effectiveSettings(env, 'node') }, 'Postlane is running');

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
