/**
 * `npm run bench` (SPEC §9): in one run on this machine, API ingest, end-to-end delivery into a
 * local SMTP sink, and the raw limits they are compared with, printed as ratios against
 * baselines measured in the same run. `BENCH_QUICK=1` is a ~1 minute smoke version.
 *
 * Processes (loopback only, every one stopped on exit, error and Ctrl-C):
 *   baselines child  libSQL WAL inserts/s, RSA-2048 / Ed25519 signatures/s (one thread)
 *   hello child      trivial Hono app on @hono/node-server: the HTTP ceiling for the same client
 *   platform child   the edge (libSQL file, WAL) — plus one MtaNode for the e2e runs
 *   loadgen child    node:http keep-alive client, a fixed number of concurrent workers
 *   smtp-sink        Postfix's sink: THE sink for both the raw and the e2e runs
 *   smtp-source      Postfix's SMTP load generator, 20 sessions, 2 KB
 *   postfix          a private Postfix instance relaying the e2e load to the same sink (baseline)
 *
 * Postfix is installed by the bench when missing (lib/postfix-install.ts: apt-get, as root or
 * through passwordless sudo). Every phase is bracketed by a load sample (lib/load.ts), and the
 * run says whether other processes were competing for the cores.
 *
 * Optional: BENCH_CPU_PROF=1 writes a V8 CPU profile of each platform child (see the printed dir).
 * External edges: BENCH_EDGE_URLS=http://a,http://b BENCH_API_KEY=… adds an ingest run against them.
 */
import { rmSync } from 'node:fs';
import { killAllNow, stopAll } from './lib/proc.ts';
import { ensurePostfix } from './lib/postfix-install.ts';
import { abortRelaysNow, stopRelays } from './lib/postfix-relay.ts';
import { withLoadSample } from './lib/load.ts';
import { phasePostfix } from './postfix.ts';
import { phaseShaped, type ShapedReport } from './shaped.ts';
import { printShaped } from './shaped-report.ts';
import { QUICK, dir, log } from './setup.ts';
import { phaseBaselines, phaseExternal, phaseHello, phaseIngest } from './ingest.ts';
import { phaseE2E, phaseSmtp, runClusterPhase } from './e2e.ts';
import { printTable, summaryJson } from './report.ts';

let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopRelays();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('exit', () => {
  killAllNow();
  abortRelaysNow();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping every bench process…`);
    void cleanup().finally(() => process.exit(130));
  });
}

const startedAt = Date.now();
let exitCode = 0;
let shaped: ShapedReport | null = null;
try {
  await ensurePostfix(log);
  // BENCH_ONLY=ingest,e2e… runs a subset (development); the default is everything. `e2e` brings
  // its Postfix baseline along (`postfix` alone runs only the baseline).
  const only = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
  const want = (p: string) => only.size === 0 || only.has(p);
  const phase = (name: string, fn: () => Promise<unknown>) => withLoadSample(name, fn);
  if (want('baselines')) await phase('baselines', phaseBaselines);
  if (want('hello')) await phase('hello', phaseHello);
  if (want('ingest')) await phase('ingest', phaseIngest);
  if (want('smtp')) await phase('smtp', phaseSmtp);
  if (want('e2e')) await phase('e2e-rsa', () => phaseE2E('rsa', 'rsa-sha256'));
  if (want('e2e')) await phase('e2e-ed25519', () => phaseE2E('ed25519', 'ed25519-sha256'));
  if (want('e2e') || want('postfix')) await phase('postfix', phasePostfix);
  if (want('external')) await phase('external', phaseExternal);
  if (want('cluster')) await phase('cluster', runClusterPhase);
  if (want('shaped')) await phase('shaped', async () => (shaped = await phaseShaped({ dir, quick: QUICK, log })));
} catch (err) {
  exitCode = 1;
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
} finally {
  await cleanup();
}
printTable();
if (shaped) printShaped(shaped);
console.log(`BENCH_JSON ${JSON.stringify(summaryJson())}`);
log(`done in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
process.exit(exitCode);
