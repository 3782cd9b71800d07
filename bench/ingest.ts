/** Bench phases measuring API ingest: baselines, the HTTP ceiling, the edge alone, external edges. */
import { nextMessage, spawnTs, stopChild } from './lib/proc.ts';
import { measureIngest, registerDomain, type EdgeTarget } from './lib/measure.ts';
import { P, R, dir, log, runChild, startPlatform } from './setup.ts';

export async function phaseBaselines() {
  log('baselines: libSQL WAL inserts, DKIM signatures (one thread)');
  R.baselines = await runChild('baselines.ts', { BENCH_BASELINES: JSON.stringify({ dir, ms: P.baselineMs }) }, 60_000);
}

export async function phaseHello() {
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

export async function ingestOn(target: EdgeTarget, fromDomain: string, runId: string) {
  const common = { concurrency: P.concurrency, batchSize: P.batchSize, warmupMs: P.warmupMs, durationMs: P.ingestMs, fromDomain, toDomain: 'dest.bench.test', replayCheck: 50 };
  const single = await measureIngest(target, { ...common, mode: 'single', runId: `${runId}-s` });
  const batch = await measureIngest(target, { ...common, mode: 'batch', runId: `${runId}-b`, replayCheck: 10 });
  return { single, batch };
}

export async function phaseIngest() {
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

/** Edges started elsewhere (BENCH_EDGE_URLS): ingest only — their nodes' sink is not ours to count. */
export async function phaseExternal() {
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

