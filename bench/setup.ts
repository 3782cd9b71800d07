/**
 * The bench run's shared state: its knobs, its scratch directory, the results being filled in,
 * and how the platform and one-shot children are started. bench/run.ts is the entry point.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextMessage, spawnTs, stopChild } from './lib/proc.ts';
import type { E2EResult, EdgeTarget, LoadResult } from './lib/measure.ts';
import type { PlatformChildConfig } from './children/platform.ts';
import type { ClusterResults } from './cluster.ts';

export const QUICK = process.env.BENCH_QUICK === '1';
export const CPU_PROF = process.env.BENCH_CPU_PROF === '1';

/** Every knob of the run, printed with the figures. */
export const P = {
  concurrency: 32,
  batchSize: 100,
  warmupMs: QUICK ? 500 : 1_500,
  ingestMs: QUICK ? 3_000 : 10_000,
  helloMs: QUICK ? 2_000 : 5_000,
  baselineMs: QUICK ? 700 : 2_500,
  smtpSessions: 20,
  smtpBytes: 2048,
  smtpReuseMessages: QUICK ? 10_000 : 40_000,
  smtpNewConnMessages: QUICK ? 4_000 : 12_000,
  e2eMessages: QUICK ? 2_000 : 10_000,
  e2ePostConcurrency: 4,
  e2eTimeoutMs: QUICK ? 20_000 : 45_000,
  /** Three workerd, two sqld and two node processes share the cores: more time, same messages. */
  clusterE2eTimeoutMs: QUICK ? 90_000 : 240_000,
  node: { capacity: 1_000, limits: { maxConnections: 20, maxMessagesPerConnection: 1_000 }, journalFsync: true, dkimWorkers: availableParallelism() },
  edgeEnv: {
    // The default tenant limit (5,000/s, burst 20,000) would answer 429 before the store is the limit.
    POSTLANE_TENANT_RATE: '1000000',
    POSTLANE_TENANT_BURST: '1000000',
    POSTLANE_API_KEY: 'pl_bench_0123456789abcdef',
    POSTLANE_NODE_TOKEN: 'plnode_bench_0123456789abcdef',
  },
} as const;

/**
 * The sink is one destination domain: the shipped table would shape it like an unknown receiver
 * (300/min per IP). An operator relaying to their own sink raises its budget the same way, with
 * a shaping file (embedded) or the POSTLANE_SHAPING_POLICY var (Worker); AIMD and breakers stay on.
 */
export const BENCH_SHAPING = { default: { ratePerIp: '6000000/min', ratePerPool: '6000000/min', maxConnectionsPerIp: 20, messagesPerConnection: 1000 } };

export const TARGETS = { ingestSingle: 2_500, ingestP99Ms: 25, ingestBatch: 5_000, e2eRsa: 1_000 };

export const dir = mkdtempSync(join(tmpdir(), 'postlane-bench-'));
export const profDir = join(tmpdir(), `postlane-bench-prof-${process.pid}`);

export const log = (s: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

export interface Platform {
  target: EdgeTarget;
  stats(): Promise<any>;
  stop(): Promise<void>;
}

export async function startPlatform(name: string, node: PlatformChildConfig['node']): Promise<Platform> {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const shapingFile = join(dir, 'shaping.json');
  writeFileSync(shapingFile, JSON.stringify(BENCH_SHAPING));
  const cfg: PlatformChildConfig = { dataDir, edgeEnv: { ...P.edgeEnv, POSTLANE_SHAPING_FILE: shapingFile }, node };
  if (CPU_PROF) mkdirSync(profDir, { recursive: true });
  const child = spawnTs('platform.ts', {
    env: { BENCH_PLATFORM: JSON.stringify(cfg) },
    // One directory per child: the tsx loader thread writes a profile of its own beside the main thread's.
    nodeFlags: CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, name)}`] : [],
  });
  const ready = await nextMessage<{ url: string; apiKey: string }>(child, 'ready', 60_000);
  return {
    target: { label: `embedded ${name}`, urls: [ready.url], apiKey: ready.apiKey },
    async stats() {
      child.send({ type: 'stats' });
      return nextMessage(child, 'stats', 10_000);
    },
    stop: () => stopChild(child, 15_000),
  };
}

export async function runChild<T>(script: string, env: Record<string, string>, timeoutMs: number): Promise<T> {
  const child = spawnTs(script, { env });
  try {
    return await nextMessage<T>(child, 'result', timeoutMs);
  } finally {
    await stopChild(child);
  }
}

// ---------------------------------------------------------------------------------------------
export interface Results {
  machine: { cores: number; cpu: string; node: string; quick: boolean };
  baselines?: { autocommitPerSec: number; txPerSec: number; rsaPerSec: number; edPerSec: number };
  hello?: { single: LoadResult; batch: LoadResult };
  ingest?: { single: LoadResult; batch: LoadResult; avgMessageBytes: number; stored: number };
  smtp?: { reuse: { perSec: number }; newConn: { perSec: number }; tool: string };
  e2e: Record<string, (E2EResult & { dkim: string; dkimChecked: string; node?: any; jobs?: any; hub?: any }) | { error: string }>;
  external?: Record<string, { single?: LoadResult; batch?: LoadResult; e2e?: E2EResult; error?: string; note?: string }>;
  cluster?: ClusterResults;
  /** The same e2e load relayed by a private Postfix (bench/postfix.ts). */
  postfix?: { messages: number; delivered: number; ms: number; perSec: number; ingestMs: number; complete: boolean; sessions: number; connections: number } | { error: string };
  notes: string[];
}

export const R: Results = {
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? '?', node: process.version, quick: QUICK },
  e2e: {},
  notes: [],
};
