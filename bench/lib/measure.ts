/**
 * The measurements, against an arbitrary set of edge URLs: the embedded platform gives one URL;
 * a cluster (e.g. two workerd edge instances sharing one store) gives several, and the load
 * generator spreads its connections over them round-robin. Nothing here knows how the edges were
 * started — that is the hook for a cluster run (bench/cluster.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { nextMessage, spawnTs, stopChild } from './proc.ts';
import type { SmtpSink } from './smtp.ts';
import type { LoadgenConfig } from '../children/loadgen.ts';

export interface EdgeTarget {
  label: string;
  /** Base URLs of the edge instances (http://127.0.0.1:PORT). */
  urls: string[];
  apiKey: string;
}

export interface LoadResult {
  startedAt: number;
  firstToLastMs: number;
  totalMessages: number;
  windowMs: number;
  requests: number;
  messages: number;
  messagesPerSec: number;
  requestsPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  errors: string[];
  replayChecked: number;
  replays: number;
}

export async function runLoadgen(cfg: LoadgenConfig, timeoutMs: number): Promise<LoadResult> {
  let child: ChildProcess | null = null;
  try {
    child = spawnTs('loadgen.ts', { env: { BENCH_LOADGEN: JSON.stringify(cfg) } });
    return await nextMessage<LoadResult>(child, 'result', timeoutMs);
  } finally {
    if (child) await stopChild(child);
  }
}

async function api(target: EdgeTarget, method: string, path: string, body?: unknown) {
  const res = await fetch(`${target.urls[0]}${path}`, {
    method,
    headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text };
}

/** Registers a sending domain (generates its DKIM key). */
export async function registerDomain(target: EdgeTarget, domain: string, algorithm: 'rsa-sha256' | 'ed25519-sha256') {
  const res = await api(target, 'POST', '/v1/domains', { domain, dkim_algorithm: algorithm });
  if (res.status !== 201 && res.status !== 200) throw new Error(`POST /v1/domains ${domain}: ${res.status} ${res.body}`);
}

/** POSTs one message and returns its id (used for the DKIM check before a timed run). */
export async function sendOne(target: EdgeTarget, message: unknown): Promise<string> {
  const res = await api(target, 'POST', '/v1/messages', message);
  if (res.status !== 202) throw new Error(`POST /v1/messages: ${res.status} ${res.body}`);
  return JSON.parse(res.body).id;
}

export interface IngestOptions {
  mode: 'single' | 'batch';
  concurrency: number;
  batchSize: number;
  warmupMs: number;
  durationMs: number;
  fromDomain: string;
  toDomain: string;
  runId: string;
  /** Override the path (the hello ceiling uses /hello and /hello/batch). */
  path?: string;
  replayCheck?: number;
}

/** Ingest: messages/s and per-request latency at a fixed concurrency, each request with its own Idempotency-Key. */
export function measureIngest(target: EdgeTarget, o: IngestOptions): Promise<LoadResult> {
  return runLoadgen(
    {
      urls: target.urls,
      mode: o.mode,
      path: o.path ?? (o.mode === 'single' ? '/v1/messages' : '/v1/messages/batch'),
      apiKey: target.apiKey,
      concurrency: o.concurrency,
      batchSize: o.batchSize,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      maxMessages: 10_000_000,
      fromDomain: o.fromDomain,
      toDomain: o.toDomain,
      runId: o.runId,
      idempotency: true,
      replayCheck: o.replayCheck ?? 0,
    },
    o.warmupMs + o.durationMs + 60_000,
  );
}

export interface E2EOptions {
  messages: number;
  concurrency: number;
  batchSize: number;
  fromDomain: string;
  /** Recipients' domain: routed to the sink by the nodes' static routes. */
  toDomain: string;
  runId: string;
  timeoutMs: number;
}

export interface E2EResult {
  messages: number;
  delivered: number;
  /** From the first POST until the sink had them all (or the timeout). */
  ms: number;
  perSec: number;
  /** From the first POST until the last 202. */
  ingestMs: number;
  complete: boolean;
  statuses: Record<string, number>;
  errors: string[];
}

/**
 * End to end: POSTs `messages` messages (batches, with Idempotency-Keys) and waits until `sink`
 * has received them all. Delivered/s counts from the first POST to the sink's last message.
 */
export async function measureE2E(target: EdgeTarget, sink: SmtpSink, o: E2EOptions): Promise<E2EResult> {
  const base = sink.count;
  const deadline = Date.now() + o.timeoutMs;
  const reached = sink.waitFor(base + o.messages, o.timeoutMs);
  const load = await runLoadgen(
    {
      urls: target.urls,
      mode: 'batch',
      path: '/v1/messages/batch',
      apiKey: target.apiKey,
      concurrency: o.concurrency,
      batchSize: o.batchSize,
      warmupMs: 0,
      durationMs: o.timeoutMs,
      maxMessages: o.messages,
      fromDomain: o.fromDomain,
      toDomain: o.toDomain,
      runId: o.runId,
      idempotency: true,
      replayCheck: 0,
    },
    o.timeoutMs + 30_000,
  );
  const doneAt = await reached;
  const delivered = sink.count - base;
  const end = doneAt ?? Math.min(Date.now(), deadline);
  const ms = end - load.startedAt;
  return {
    messages: o.messages,
    delivered,
    ms,
    perSec: (delivered / ms) * 1000,
    ingestMs: load.firstToLastMs,
    complete: doneAt !== null && load.totalMessages === o.messages,
    statuses: load.statuses,
    errors: load.errors,
  };
}
