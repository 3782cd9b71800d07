/**
 * The Worker side of the cluster: the bundle (`wrangler deploy --dry-run`, as a deploy would
 * build it), the Worker's vars, and workerd processes through the Miniflare API — one that hosts
 * the Durable Objects and edge instances whose DO bindings point at it through the dev registry.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT, prefixLines } from './proc.ts';

export const OBJECTS_SCRIPT = 'postlane-objects';
const COMPAT_DATE = '2026-04-20';

export interface EdgeInstance {
  name: string;
  url: string;
  port: number;
  kill(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
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

/** wrangler.toml's [[rules]]: the dashboard's uPlot build is bundled beside the Worker as text. */
export const WORKER_MODULE_RULES = [{ type: 'Text' as const, include: ['**/*-uPlot.iife.min.js', '**/*-uPlot.min.css'], fallthrough: false }];

/** The Worker's vars in the cluster (the bindings wrangler.toml declares), `overrides` on top. */
export function workerVars(opts: { dbUrl: string; masterKey: string; regions: string[]; verbose: boolean; overrides?: Record<string, string> }): Record<string, string> {
  return {
    POSTLANE_DB_URL: opts.dbUrl,
    POSTLANE_DB_AUTH_TOKEN: '',
    POSTLANE_MASTER_KEY: opts.masterKey,
    POSTLANE_REGIONS: opts.regions.join(','),
    POSTLANE_LOG_LEVEL: opts.verbose ? 'info' : 'warn',
    // A dead sqld refuses connections at once (503 in ms); the timeout is only for a hung one, and
    // must stay above the isolate's own queueing when two cores run the whole cluster under load.
    POSTLANE_STORE_TIMEOUT_MS: '5000',
    POSTLANE_LEASE_TTL_MS: '3000',
    POSTLANE_HEARTBEAT_MS: '500',
    POSTLANE_HUB_TICK_MS: '250',
    POSTLANE_RETRY_INITIAL_MS: '200',
    POSTLANE_RETRY_MAX_MS: '1000',
    // Tests reach nothing beyond loopback: no DNS-over-HTTPS for the outreach MX check.
    POSTLANE_DOH_URL: 'off',
    ...opts.overrides,
  };
}

/** One workerd process running the Worker bundle, through the Miniflare API. */
export function workerd(opts: {
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
        modulesRules: WORKER_MODULE_RULES,
        scriptPath: opts.script,
        modulesRoot: dirname(opts.script),
        compatibilityDate: COMPAT_DATE,
        host: '127.0.0.1',
        port: opts.port,
        bindings: opts.vars,
        durableObjects: { LEASE_HUB: objectRef('LeaseHubObject'), RATE_COUNTER: objectRef('RateCounter'), WEBHOOK_SENDER: objectRef('WebhookSenderObject') },
        durableObjectsPersist: opts.persist,
        unsafeDevRegistryPath: opts.registry,
        handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
          for (const [stream, tag] of [[stdout, ''], [stderr, ' !']] as const) {
            if (opts.verbose) prefixLines(stream, `${opts.name}${tag}`);
            else stream.resume();
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
