/** MTA nodes for the cluster: one process per node (node-process.ts), so a test can SIGKILL it mid-lease like a crashed host. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, killProcess, pipeLog, track } from './proc.ts';

export interface ClusterNode {
  nodeId: string;
  region: string;
  /** Resolves with the exit code or signal when the node's process ends. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly running: boolean;
}

export interface NodeSpec {
  region: string;
  nodeId: string;
  capacity?: number;
}

/** Starts one node process dialing `frontPort` with its region's token, delivering everything to the sink. */
export function spawnNode(spec: NodeSpec, ctx: { frontPort: number; token: string; sinkPort: number; dataDir: string; verbose: boolean }): ClusterNode {
  const options = {
    edge: `ws://127.0.0.1:${ctx.frontPort}/v1/nodes/connect?region=${spec.region}`,
    token: ctx.token,
    region: spec.region,
    nodeId: spec.nodeId,
    ips: [{ address: '127.0.0.1', pool: 'default', ehlo: `${spec.nodeId}.mta.test` }],
    capacity: spec.capacity ?? 50,
    journalPath: join(ctx.dataDir, `${spec.nodeId}.journal`),
    routes: { '*': { host: '127.0.0.1', port: ctx.sinkPort } },
    timeouts: { connectMs: 2000, greetingMs: 2000, commandMs: 15_000, dataMs: 15_000 },
    reconnectMinMs: 100,
    reconnectMaxMs: 1000,
    dkimWorkers: 1,
    drainTimeoutMs: 2000,
  };
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'dev/cluster/node-process.ts'), JSON.stringify(options)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POSTLANE_LOG_LEVEL: ctx.verbose ? 'info' : 'warn' },
    }),
  );
  pipeLog(child, spec.nodeId, ctx.verbose);
  return {
    nodeId: spec.nodeId,
    region: spec.region,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))),
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    kill: (signal = 'SIGKILL') => killProcess(child, signal),
  };
}
