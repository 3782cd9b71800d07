/**
 * One MTA node as its own process, for cluster mode: `tsx dev/cluster/node-process.ts '<json>'`
 * with the MtaNodeOptions as JSON (edge URL, token, region, node id, routes…). The cluster
 * (mta-nodes.ts) starts one per node so a test can SIGKILL it mid-lease like a crashed host.
 */
import { MtaNode, type MtaNodeOptions } from '../../mta-node/node.ts';
import { createLogger } from '../../mta-node/log.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as MtaNodeOptions;
const node = new MtaNode({ ...options, logger: createLogger() });
await node.start();
process.stdout.write(`${JSON.stringify({ ready: options.nodeId })}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void node.stop().finally(() => process.exit(0));
  });
}
