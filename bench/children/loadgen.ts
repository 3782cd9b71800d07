/**
 * Bench child: the HTTP load generator, in its own process so its cost does not land on the
 * server's core. node:http with a keep-alive agent, a fixed number of workers (the concurrency),
 * each sending one request after another; requests spread over the given edge URLs round-robin.
 * Bounded by time (warm-up + duration) and by a message count. Configured by BENCH_LOADGEN (JSON);
 * answers {type:'result'} and exits.
 */
import http from 'node:http';
import { benchMessage } from '../lib/message.ts';
import { fail, send } from './ipc.ts';

export interface LoadgenConfig {
  urls: string[];
  /** 'single' POSTs one message, 'batch' POSTs `batchSize` per request. */
  mode: 'single' | 'batch';
  /** Path for the mode (e.g. /v1/messages or /hello). */
  path: string;
  apiKey: string;
  concurrency: number;
  batchSize: number;
  warmupMs: number;
  durationMs: number;
  /** Stop issuing after this many messages in total (warm-up included). */
  maxMessages: number;
  fromDomain: string;
  toDomain: string;
  /** Unique per run: Idempotency-Keys and recipients carry it. */
  runId: string;
  /** Send an Idempotency-Key with every request. */
  idempotency: boolean;
  /** After the run, resend this many earlier requests with their keys and count replays. */
  replayCheck: number;
}

const cfg = JSON.parse(process.env.BENCH_LOADGEN ?? 'null') as LoadgenConfig | null;
if (!cfg) fail(new Error('BENCH_LOADGEN is not set'));

interface Reply {
  status: number;
  replayed: boolean;
  body: string;
}

const agents = cfg.urls.map(() => new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency, maxFreeSockets: cfg.concurrency }));
const targets = cfg.urls.map((u, i) => ({ url: new URL(u), agent: agents[i] }));

function post(target: (typeof targets)[number], path: string, body: string, key: string | null): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      authorization: `Bearer ${cfg!.apiKey}`,
    };
    if (key) headers['idempotency-key'] = key;
    const req = http.request(
      { host: target.url.hostname, port: target.url.port, path, method: 'POST', agent: target.agent, headers, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, replayed: res.headers['idempotent-replayed'] === 'true', body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

let seq = 0;
function nextRequest(): { body: string; key: string; messages: number } {
  const r = seq++;
  if (cfg!.mode === 'single') {
    return { body: JSON.stringify(benchMessage(r, cfg!.fromDomain, cfg!.toDomain, cfg!.runId)), key: `${cfg!.runId}-${r}`, messages: 1 };
  }
  const messages = [];
  for (let i = 0; i < cfg!.batchSize; i++) messages.push(benchMessage(r * cfg!.batchSize + i, cfg!.fromDomain, cfg!.toDomain, cfg!.runId));
  return { body: JSON.stringify({ messages }), key: `${cfg!.runId}-b${r}`, messages: cfg!.batchSize };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

try {
  const startedAt = Date.now();
  const t0 = performance.now();
  const measureFrom = t0 + cfg.warmupMs;
  const stopAt = measureFrom + cfg.durationMs;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errors: string[] = [];
  let issued = 0;
  let measuredMessages = 0;
  let measuredRequests = 0;
  let totalMessages = 0;
  let lastDoneAt = t0;
  const sample: Array<{ body: string; key: string }> = [];
  let rr = 0;

  async function worker() {
    for (;;) {
      if (performance.now() >= stopAt || issued >= cfg!.maxMessages) return;
      const req = nextRequest();
      issued += req.messages;
      const target = targets[rr++ % targets.length];
      const start = performance.now();
      let reply: Reply;
      try {
        reply = await post(target, cfg!.path, req.body, cfg!.idempotency ? req.key : null);
      } catch (err) {
        statuses.error = (statuses.error ?? 0) + 1;
        if (errors.length < 5) errors.push((err as Error).message);
        if (statuses.error > 1000) return;
        continue;
      }
      const end = performance.now();
      statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
      if (reply.status >= 400 && errors.length < 5) errors.push(`${reply.status} ${reply.body.slice(0, 300)}`);
      const ok = reply.status >= 200 && reply.status < 300;
      if (ok) {
        totalMessages += req.messages;
        lastDoneAt = end;
        if (sample.length < cfg!.replayCheck && seq % 7 === 0) sample.push({ body: req.body, key: req.key });
      }
      if (ok && start >= measureFrom && end <= stopAt) {
        latencies.push(end - start);
        measuredMessages += req.messages;
        measuredRequests++;
      }
    }
  }

  await Promise.all(Array.from({ length: cfg.concurrency }, () => worker()));
  const windowMs = Math.min(performance.now(), stopAt) - measureFrom;

  // Deduplication check: the same key and body again must be answered from the idempotency record.
  let replays = 0;
  for (const s of sample) {
    const reply = await post(targets[0], cfg.path, s.body, s.key).catch(() => null);
    if (reply && reply.status === 202 && reply.replayed) replays++;
  }

  const sorted = Float64Array.from(latencies).sort();
  send({
    type: 'result',
    startedAt,
    firstToLastMs: lastDoneAt - t0,
    totalMessages,
    windowMs,
    requests: measuredRequests,
    messages: measuredMessages,
    messagesPerSec: windowMs > 0 ? (measuredMessages / windowMs) * 1000 : 0,
    requestsPerSec: windowMs > 0 ? (measuredRequests / windowMs) * 1000 : 0,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    statuses,
    errors,
    replayChecked: sample.length,
    replays,
  });
  for (const a of agents) a.destroy();
  setTimeout(() => process.exit(0), 100);
} catch (err) {
  fail(err);
}
