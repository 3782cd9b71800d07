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
 *
 * Optional: BENCH_CPU_PROF=1 writes a V8 CPU profile of each platform child (see the printed dir).
 * External edges: BENCH_EDGE_URLS=http://a,http://b BENCH_API_KEY=… adds an ingest run against them.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killAllNow, nextMessage, spawnTs, stopAll, stopChild, sleep } from './lib/proc.ts';
import { postfixToolsPresent, smtpSource, startSmtpSink } from './lib/smtp.ts';
import { measureE2E, measureIngest, registerDomain, sendOne, type E2EResult, type EdgeTarget, type LoadResult } from './lib/measure.ts';
import { benchMessage } from './lib/message.ts';
import type { PlatformChildConfig } from './children/platform.ts';
import { startSink as startCheckSink } from '../test/mta-node/helpers.ts';
import { phaseShaped, printShaped, type ShapedReport } from './shaped.ts';
import { phaseCluster, type ClusterResults } from './cluster.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';

/** Every knob of the run, printed with the figures. */
const P = {
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
const BENCH_SHAPING = { default: { ratePerIp: '6000000/min', ratePerPool: '6000000/min', maxConnectionsPerIp: 20, messagesPerConnection: 1000 } };

const TARGETS = { ingestSingle: 2_500, ingestP99Ms: 25, ingestBatch: 5_000, e2eRsa: 1_000 };

const dir = mkdtempSync(join(tmpdir(), 'postlane-bench-'));
const profDir = join(tmpdir(), `postlane-bench-prof-${process.pid}`);
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping every bench process…`);
    void cleanup().finally(() => process.exit(130));
  });
}

const log = (s: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

interface Platform {
  target: EdgeTarget;
  stats(): Promise<any>;
  stop(): Promise<void>;
}

async function startPlatform(name: string, node: PlatformChildConfig['node']): Promise<Platform> {
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

async function runChild<T>(script: string, env: Record<string, string>, timeoutMs: number): Promise<T> {
  const child = spawnTs(script, { env });
  try {
    return await nextMessage<T>(child, 'result', timeoutMs);
  } finally {
    await stopChild(child);
  }
}

// ---------------------------------------------------------------------------------------------
interface Results {
  machine: { cores: number; cpu: string; node: string; quick: boolean };
  baselines?: { autocommitPerSec: number; txPerSec: number; rsaPerSec: number; edPerSec: number };
  hello?: { single: LoadResult; batch: LoadResult };
  ingest?: { single: LoadResult; batch: LoadResult; avgMessageBytes: number; stored: number };
  smtp?: { reuse: { perSec: number }; newConn: { perSec: number }; tool: string };
  e2e: Record<string, (E2EResult & { dkim: string; dkimChecked: string; node?: any; jobs?: any; hub?: any }) | { error: string }>;
  external?: Record<string, { single?: LoadResult; batch?: LoadResult; e2e?: E2EResult; error?: string; note?: string }>;
  cluster?: ClusterResults;
  notes: string[];
}

const R: Results = {
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? '?', node: process.version, quick: QUICK },
  e2e: {},
  notes: [],
};

async function phaseBaselines() {
  log('baselines: libSQL WAL inserts, DKIM signatures (one thread)');
  R.baselines = await runChild('baselines.ts', { BENCH_BASELINES: JSON.stringify({ dir, ms: P.baselineMs }) }, 60_000);
}

async function phaseHello() {
  log('HTTP ceiling: Hono hello on @hono/node-server, same client, same bodies');
  const child = spawnTs('hello.ts');
  try {
    const { url } = await nextMessage<{ url: string }>(child, 'ready', 30_000);
    const target: EdgeTarget = { label: 'hello', urls: [url], apiKey: 'none' };
    const common = { concurrency: P.concurrency, batchSize: P.batchSize, warmupMs: P.warmupMs, durationMs: P.helloMs, fromDomain: 'shop.bench.test', toDomain: 'dest.bench.test', runId: 'hello' };
    const single = await measureIngest(target, { ...common, mode: 'single', path: '/hello' });
    const batch = await measureIngest(target, { ...common, mode: 'batch', path: '/hello/batch' });
    R.hello = { single, batch };
  } finally {
    await stopChild(child);
  }
}

async function ingestOn(target: EdgeTarget, fromDomain: string, runId: string) {
  const common = { concurrency: P.concurrency, batchSize: P.batchSize, warmupMs: P.warmupMs, durationMs: P.ingestMs, fromDomain, toDomain: 'dest.bench.test', replayCheck: 50 };
  const single = await measureIngest(target, { ...common, mode: 'single', runId: `${runId}-s` });
  const batch = await measureIngest(target, { ...common, mode: 'batch', runId: `${runId}-b`, replayCheck: 10 });
  return { single, batch };
}

async function phaseIngest() {
  log('ingest: edge alone (no MTA node; messages stay queued), libSQL file in WAL');
  const p = await startPlatform('ingest', null);
  try {
    await registerDomain(p.target, 'shop.bench.test', 'rsa-sha256');
    const { single, batch } = await ingestOn(p.target, 'shop.bench.test', 'ingest');
    const stats = await p.stats();
    R.ingest = { single, batch, avgMessageBytes: stats.avgMessageBytes, stored: stats.messages };
  } finally {
    await p.stop();
  }
}

async function phaseSmtp() {
  log('raw SMTP: smtp-source → smtp-sink, 20 sessions, 2 KB');
  const sink = await startSmtpSink(await freePort(), 120, dir);
  try {
    const common = { sessions: P.smtpSessions, bytes: P.smtpBytes, maxSeconds: 60 };
    // A short warm-up so neither figure pays for first-use costs.
    await smtpSource(sink.port, { ...common, messages: 1_000, reuse: true });
    const reuse = await smtpSource(sink.port, { ...common, messages: P.smtpReuseMessages, reuse: true });
    const newConn = await smtpSource(sink.port, { ...common, messages: P.smtpNewConnMessages, reuse: false });
    R.smtp = { reuse, newConn, tool: 'postfix smtp-source/smtp-sink' };
  } finally {
    await sink.stop();
  }
}

async function phaseE2E(label: string, algorithm: 'rsa-sha256' | 'ed25519-sha256') {
  log(`e2e ${label}: platform (edge + 1 MtaNode) → smtp-sink`);
  const sink = await startSmtpSink(await freePort(), 300, dir);
  const check = await startCheckSink();
  const domain = algorithm === 'rsa-sha256' ? 'rsa.bench.test' : 'ed.bench.test';
  let p: Platform | null = null;
  try {
    p = await startPlatform(`e2e-${label}`, {
      routes: { '*': { host: '127.0.0.1', port: sink.port }, 'check.bench.test': { host: '127.0.0.1', port: check.port } },
      ...P.node,
    });
    await registerDomain(p.target, domain, algorithm);
    // Proof the signing is on: one message to a check sink, its DKIM-Signature read back.
    await sendOne(p.target, { ...benchMessage(0, domain, 'check.bench.test', 'check'), to: 'check@check.bench.test' });
    const until = Date.now() + 15_000;
    while (check.mails.length === 0 && Date.now() < until) await sleep(20);
    const sig = /^DKIM-Signature:([\s\S]*?)\r\n(?=\S)/im.exec(check.mails[0]?.raw ?? '')?.[1] ?? '';
    const a = /\ba=([\w-]+)/.exec(sig)?.[1];
    const d = /\bd=([\w.-]+)/.exec(sig)?.[1];
    const dkimChecked = check.mails.length === 0 ? 'check message not delivered' : a === algorithm && d === domain ? `ok (a=${a}; d=${d})` : `MISMATCH (a=${a}; d=${d})`;
    const r = await measureE2E(p.target, sink, {
      messages: P.e2eMessages,
      concurrency: P.e2ePostConcurrency,
      batchSize: P.batchSize,
      fromDomain: domain,
      toDomain: 'dest.bench.test',
      runId: `e2e-${label}`,
      timeoutMs: P.e2eTimeoutMs,
    });
    const stats = await p.stats().catch(() => null);
    R.e2e[label] = { ...r, dkim: algorithm, dkimChecked, node: stats?.node, jobs: stats?.jobs, hub: stats?.hub };
  } catch (err) {
    R.e2e[label] = { error: (err as Error).message };
  } finally {
    await p?.stop();
    await check.close();
    await sink.stop();
  }
}

/** Edges started elsewhere (BENCH_EDGE_URLS): ingest only — their nodes' sink is not ours to count. */
async function phaseExternal() {
  const urls = process.env.BENCH_EDGE_URLS?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!urls?.length) return;
  const target: EdgeTarget = { label: 'external', urls, apiKey: process.env.BENCH_API_KEY ?? '' };
  log(`ingest against external edges ${urls.join(', ')}`);
  R.external ??= {};
  try {
    await registerDomain(target, 'shop.bench.test', 'rsa-sha256');
    R.external.external = await ingestOn(target, 'shop.bench.test', `ext${Date.now()}`);
  } catch (err) {
    R.external.external = { error: (err as Error).message };
  }
}

/** The cluster variant: bench/cluster.ts, with the embedded runs' knobs and ingest measurement. */
async function runClusterPhase() {
  if (process.env.BENCH_CLUSTER === '0') return;
  R.cluster = {};
  await phaseCluster(
    {
      shaping: BENCH_SHAPING,
      nodeCapacity: P.node.capacity,
      e2e: { messages: P.e2eMessages, concurrency: P.e2ePostConcurrency, batchSize: P.batchSize, timeoutMs: P.clusterE2eTimeoutMs },
      ingest: ingestOn,
      log,
    },
    R.cluster,
  );
}

// ---------------------------------------------------------------------------------------------
const n0 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));
const n1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : '—');
const yesNo = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'MET' : 'NOT MET');

function printTable() {
  const rows: string[][] = [];
  const row = (...cells: (string | number)[]) => rows.push(cells.map(String));
  const b = R.baselines;
  const h = R.hello;
  const i = R.ingest;
  const s = R.smtp;
  row('measure', 'figure', 'baseline (same run)', 'ratio', 'target', '');
  if (i) {
    const bad = (r: LoadResult) => Object.entries(r.statuses).filter(([k]) => !k.startsWith('2')).map(([k, v]) => `${k}×${v}`).join(' ');
    row('ingest single c=32, msg/s', n0(i.single.messagesPerSec), `Hono hello ${n0(h?.single.requestsPerSec)} req/s`, ratio(i.single.messagesPerSec, h?.single.requestsPerSec), `≥ ${n0(TARGETS.ingestSingle)}`, yesNo(i.single.messagesPerSec >= TARGETS.ingestSingle));
    row('  latency p50 / p99 / max, ms', `${n1(i.single.p50)} / ${n1(i.single.p99)} / ${n1(i.single.max)}`, `hello p50 ${n1(h?.single.p50)} p99 ${n1(h?.single.p99)}`, '', `p99 < ${TARGETS.ingestP99Ms}`, yesNo(i.single.p99 < TARGETS.ingestP99Ms));
    row('  vs libSQL autocommit inserts/s', '', n0(b?.autocommitPerSec), ratio(i.single.messagesPerSec, b?.autocommitPerSec), '', '');
    if (bad(i.single)) row('  non-2xx', bad(i.single), '', '', '', '');
    row(`ingest batch ${P.batchSize}/req c=32, msg/s`, n0(i.batch.messagesPerSec), `Hono hello ${n0(h?.batch.messagesPerSec)} msg/s`, ratio(i.batch.messagesPerSec, h?.batch.messagesPerSec), `≥ ${n0(TARGETS.ingestBatch)}`, yesNo(i.batch.messagesPerSec >= TARGETS.ingestBatch));
    row('  request p50 / p99, ms', `${n1(i.batch.p50)} / ${n1(i.batch.p99)}`, `hello p50 ${n1(h?.batch.p50)} p99 ${n1(h?.batch.p99)}`, '', '', '');
    row('  vs libSQL 1,000-row tx inserts/s', '', n0(b?.txPerSec), ratio(i.batch.messagesPerSec, b?.txPerSec), '', '');
    if (bad(i.batch)) row('  non-2xx', bad(i.batch), '', '', '', '');
    row('  dedup: replays answered from key', `${i.single.replays + i.batch.replays}/${i.single.replayChecked + i.batch.replayChecked}`, '', '', 'all', yesNo(i.single.replays + i.batch.replays === i.single.replayChecked + i.batch.replayChecked));
  }
  if (s) {
    row('raw SMTP reuse (-d), msg/s', n0(s.reuse.perSec), 'smtp-source → smtp-sink', '', '', '');
    row('raw SMTP new conn/msg, msg/s', n0(s.newConn.perSec), 'smtp-source → smtp-sink', '', '', '');
  }
  for (const [label, e] of Object.entries(R.e2e)) {
    if ('error' in e) {
      row(`e2e ${label}`, 'FAILED', e.error.slice(0, 60), '', '', '');
      continue;
    }
    const target = label === 'rsa' ? `≥ ${n0(TARGETS.e2eRsa)}` : '';
    row(`e2e ${label === 'rsa' ? 'RSA-2048 DKIM' : 'Ed25519 DKIM ("off")'}, delivered/s`, n0(e.perSec), `smtp raw reuse ${n0(s?.reuse.perSec)}`, ratio(e.perSec, s?.reuse.perSec), target, label === 'rsa' ? yesNo(e.complete && e.perSec >= TARGETS.e2eRsa) : '');
    row('  vs raw new conn/msg', '', n0(s?.newConn.perSec), ratio(e.perSec, s?.newConn.perSec), '', '');
    if (label === 'rsa') row('  vs RSA-2048 signs/s, 1 thread', '', n0(b?.rsaPerSec), ratio(e.perSec, b?.rsaPerSec), '', '');
    if (e.node) row('  node: delivered / deferred / bounced', `${e.node.delivered} / ${e.node.deferred} / ${e.node.bounced}`, `jobs ${JSON.stringify(e.jobs)}; hub view ${JSON.stringify(e.hub)}`, '', '', '');
    if (e.node) row('  node: in flight / leased total', `${e.node.inFlight} / ${e.node.leased}`, '', '', '', '');
    row('  delivered / sent, total s, ingest s', `${e.delivered}/${e.messages}, ${(e.ms / 1000).toFixed(1)} s, ${(e.ingestMs / 1000).toFixed(1)} s`, `DKIM check ${e.dkimChecked}`, '', '', e.complete ? '' : 'INCOMPLETE');
  }
  for (const [label, x] of Object.entries(R.external ?? {})) {
    if (x.single) row(`${label}: ingest single c=32, msg/s`, n0(x.single.messagesPerSec), `p50 ${n1(x.single.p50)} p99 ${n1(x.single.p99)} ms`, `${ratio(x.single.messagesPerSec, i?.single.messagesPerSec)} of embedded`, '', '');
    for (const [k, r] of [['single', x.single], ['batch', x.batch]] as const) {
      const bad = r ? Object.entries(r.statuses).filter(([c]) => !c.startsWith('2')) : [];
      if (r && bad.length) row(`  ${k} non-2xx`, bad.map(([c, v]) => `${c}×${v}`).join(' '), (r.errors[0] ?? '').slice(0, 100), '', '', '');
    }
    if (x.batch) row(`${label}: ingest batch, msg/s`, n0(x.batch.messagesPerSec), '', `${ratio(x.batch.messagesPerSec, i?.batch.messagesPerSec)} of embedded`, '', '');
    if (x.e2e) row(`${label}: e2e RSA, delivered/s`, n0(x.e2e.perSec), `${x.e2e.delivered}/${x.e2e.messages}`, `${ratio(x.e2e.perSec, s?.reuse.perSec)} of raw`, '', x.e2e.complete ? '' : 'INCOMPLETE');
    if (x.error) row(`${label}`, 'FAILED', x.error.slice(0, 80), '', '', '');
  }
  const cl = R.cluster;
  if (cl) {
    // The same measures through the cluster, each against the embedded run of this bench.
    const rsa = R.e2e.rsa && !('error' in R.e2e.rsa) ? R.e2e.rsa : undefined;
    const nonOk = (r: LoadResult) => Object.entries(r.statuses).filter(([c]) => !c.startsWith('2'));
    if (cl.single) {
      row('cluster ingest single c=32, msg/s', n0(cl.single.messagesPerSec), `embedded ${n0(i?.single.messagesPerSec)}`, ratio(cl.single.messagesPerSec, i?.single.messagesPerSec), '', '');
      row('  latency p50 / p99 / max, ms', `${n1(cl.single.p50)} / ${n1(cl.single.p99)} / ${n1(cl.single.max)}`, `embedded p50 ${n1(i?.single.p50)} p99 ${n1(i?.single.p99)}`, '', '', '');
    }
    if (cl.batch) {
      row(`cluster ingest batch ${P.batchSize}/req c=32, msg/s`, n0(cl.batch.messagesPerSec), `embedded ${n0(i?.batch.messagesPerSec)}`, ratio(cl.batch.messagesPerSec, i?.batch.messagesPerSec), '', '');
      row('  request p50 / p99, ms', `${n1(cl.batch.p50)} / ${n1(cl.batch.p99)}`, `embedded p50 ${n1(i?.batch.p50)} p99 ${n1(i?.batch.p99)}`, '', '', '');
    }
    for (const [k, r] of [['single', cl.single], ['batch', cl.batch]] as const) {
      if (r && nonOk(r).length) row(`  ${k} non-2xx`, nonOk(r).map(([c, v]) => `${c}×${v}`).join(' '), (r.errors[0] ?? '').slice(0, 100), '', '', '');
    }
    if (cl.single && cl.batch) {
      row('  dedup: replays answered from key', `${cl.single.replays + cl.batch.replays}/${cl.single.replayChecked + cl.batch.replayChecked}`, '', '', 'all', yesNo(cl.single.replays + cl.batch.replays === cl.single.replayChecked + cl.batch.replayChecked));
    }
    if (cl.e2e) {
      row('cluster e2e RSA-2048, delivered/s', n0(cl.e2e.perSec), `embedded ${n0(rsa?.perSec)}`, ratio(cl.e2e.perSec, rsa?.perSec), '', cl.e2e.complete ? '' : 'INCOMPLETE');
      row('  delivered / sent, total s, ingest s', `${cl.e2e.delivered}/${cl.e2e.messages}, ${(cl.e2e.ms / 1000).toFixed(1)} s, ${(cl.e2e.ingestMs / 1000).toFixed(1)} s`, `by node ${JSON.stringify(cl.e2eBy)}; duplicates ${cl.e2eDuplicates}`, '', '', '');
      if (nonOk(cl.e2e as unknown as LoadResult).length) row('  e2e non-2xx', nonOk(cl.e2e as unknown as LoadResult).map(([c, v]) => `${c}×${v}`).join(' '), (cl.e2e.errors[0] ?? '').slice(0, 100), '', '', '');
    }
    if (cl.error) row('cluster', 'FAILED', cl.error.slice(0, 100), '', '', '');
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 || c === 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  console.log('');
  console.log(`Postlane bench — ${R.machine.cores} cores (${R.machine.cpu}), Node ${R.machine.node}${QUICK ? ', QUICK' : ''}`);
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
  console.log('');
  if (b) console.log(`baselines: libSQL WAL/NORMAL ${n0(b.autocommitPerSec)} autocommit inserts/s, ${n0(b.txPerSec)}/s in 1,000-row transactions; RSA-2048 ${n0(b.rsaPerSec)} signs/s, Ed25519 ${n0(b.edPerSec)} signs/s (one thread)`);
  if (i) console.log(`ingest: ${n0(i.stored)} messages stored, avg MIME size ${n0(i.avgMessageBytes)} bytes; each request with its own Idempotency-Key; ${P.warmupMs} ms warm-up + ${P.ingestMs} ms measured`);
  console.log(`e2e: ${P.e2eMessages} messages posted in batches of ${P.batchSize} at c=${P.e2ePostConcurrency}, timed from the first POST to the sink's last message; node capacity ${P.node.capacity}, ${P.node.limits.maxConnections} connections, ${P.node.limits.maxMessagesPerConnection} msgs/connection, journal fsync ${P.node.journalFsync}, DKIM workers ${P.node.dkimWorkers}`);
  if (R.cluster) console.log(`cluster: 2 workerd edges (+1 for the Durable Objects) over sqld primary + replica, nodes bench-eu and bench-us; e2e first on an empty queue (${P.e2eMessages} messages, sink = smtp-server in the bench process), then ingest with the nodes stopped; shaping policy POSTLANE_SHAPING_POLICY = the embedded shaping file`);
  console.log('"DKIM off": every sending domain has a key (POST /v1/domains), so the cheap case is Ed25519 signing, not unsigned mail.');
  for (const n of R.notes) console.log(`note: ${n}`);
  if (CPU_PROF) console.log(`CPU profiles of the platform children: ${profDir}`);
}

function summaryJson() {
  const i = R.ingest;
  const e = (k: string) => (R.e2e[k] && !('error' in R.e2e[k]) ? (R.e2e[k] as E2EResult) : undefined);
  return {
    bench: 'postlane',
    quick: QUICK,
    cores: R.machine.cores,
    ingest_single_msgs: i && Math.round(i.single.messagesPerSec),
    ingest_single_p50_ms: i && +i.single.p50.toFixed(2),
    ingest_single_p99_ms: i && +i.single.p99.toFixed(2),
    ingest_batch_msgs: i && Math.round(i.batch.messagesPerSec),
    http_ceiling_rps: R.hello && Math.round(R.hello.single.requestsPerSec),
    libsql_autocommit_ips: R.baselines && Math.round(R.baselines.autocommitPerSec),
    libsql_tx_ips: R.baselines && Math.round(R.baselines.txPerSec),
    rsa_signs_per_sec: R.baselines && Math.round(R.baselines.rsaPerSec),
    smtp_raw_reuse_msgs: R.smtp && Math.round(R.smtp.reuse.perSec),
    smtp_raw_newconn_msgs: R.smtp && Math.round(R.smtp.newConn.perSec),
    e2e_rsa_msgs: e('rsa') && Math.round(e('rsa')!.perSec),
    e2e_ed25519_msgs: e('ed25519') && Math.round(e('ed25519')!.perSec),
    e2e_rsa_ratio_raw_reuse: e('rsa') && R.smtp && +(e('rsa')!.perSec / R.smtp.reuse.perSec).toFixed(3),
    cluster: R.cluster
      ? {
          ingest_single_msgs: R.cluster.single && Math.round(R.cluster.single.messagesPerSec),
          ingest_single_p99_ms: R.cluster.single && +R.cluster.single.p99.toFixed(2),
          ingest_batch_msgs: R.cluster.batch && Math.round(R.cluster.batch.messagesPerSec),
          e2e_msgs: R.cluster.e2e && Math.round(R.cluster.e2e.perSec),
          e2e_complete: R.cluster.e2e?.complete,
          ratio_ingest_single: R.cluster.single && i ? +(R.cluster.single.messagesPerSec / i.single.messagesPerSec).toFixed(3) : undefined,
          ratio_ingest_batch: R.cluster.batch && i ? +(R.cluster.batch.messagesPerSec / i.batch.messagesPerSec).toFixed(3) : undefined,
          ratio_e2e_rsa: R.cluster.e2e && e('rsa') ? +(R.cluster.e2e.perSec / e('rsa')!.perSec).toFixed(3) : undefined,
          error: R.cluster.error,
        }
      : undefined,
    targets: { ingest_single_msgs: TARGETS.ingestSingle, ingest_single_p99_ms: TARGETS.ingestP99Ms, ingest_batch_msgs: TARGETS.ingestBatch, e2e_rsa_msgs: TARGETS.e2eRsa },
    met: {
      ingest_single: i ? i.single.messagesPerSec >= TARGETS.ingestSingle && i.single.p99 < TARGETS.ingestP99Ms : false,
      ingest_batch: i ? i.batch.messagesPerSec >= TARGETS.ingestBatch : false,
      e2e_rsa: e('rsa') ? e('rsa')!.complete && e('rsa')!.perSec >= TARGETS.e2eRsa : false,
    },
  };
}

const startedAt = Date.now();
let exitCode = 0;
let shaped: ShapedReport | null = null;
try {
  if (!postfixToolsPresent()) {
    throw new Error('smtp-sink/smtp-source not found in /usr/sbin: install them with `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postfix` (the daemon need not run)');
  }
  // BENCH_ONLY=ingest,e2e… runs a subset (development); the default is everything.
  const only = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
  const want = (p: string) => only.size === 0 || only.has(p);
  if (want('baselines')) await phaseBaselines();
  if (want('hello')) await phaseHello();
  if (want('ingest')) await phaseIngest();
  if (want('smtp')) await phaseSmtp();
  if (want('e2e')) await phaseE2E('rsa', 'rsa-sha256');
  if (want('e2e')) await phaseE2E('ed25519', 'ed25519-sha256');
  if (want('external')) await phaseExternal();
  if (want('cluster')) await runClusterPhase();
  if (want('shaped')) shaped = await phaseShaped({ dir, quick: QUICK, log });
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
