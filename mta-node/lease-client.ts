/**
 * The node's side of the lease protocol (shared/protocol.ts) over `ws`:
 * hello → welcome; journaled unacknowledged results first; then pull credits as capacity frees;
 * heartbeats with the held lease ids; results batched, journaled (fsync) and then sent; acks
 * recorded in the journal. Reconnects with capped exponential backoff and full jitter.
 */
import { WebSocket } from 'ws';
import {
  PROTOCOL_VERSION,
  encodeFrame,
  parseHubFrame,
  type DeliveryResult,
  type HubExtended,
  type HubLease,
  type HubToNode,
  type NodeToHub,
  type SourceIp,
} from '../shared/protocol.ts';
import type { Journal } from './journal.ts';
import type { Logger } from './log.ts';

type Welcome = Extract<HubToNode, { type: 'welcome' }>;

export interface LeaseClientHandlers {
  onWelcome(welcome: Welcome): void;
  onLease(lease: HubLease): void;
  onAck?(jobIds: string[], newlyAcked: number): void;
  /** The hub extended these leases (answering a heartbeat) until their new expiry. */
  onExtended?(leases: HubExtended['leases']): void;
  /** Jobs the node could take right now (capacity minus what it holds). */
  freeCapacity(): number;
  /** Lease ids of the jobs the node holds, for heartbeats. */
  heldLeaseIds(): string[];
}

export interface LeaseClientOptions {
  edge: string;
  token: string;
  nodeId: string;
  region: string;
  version: string;
  ips: SourceIp[];
  capacity: number;
  journal: Journal;
  logger: Logger;
  handlers: LeaseClientHandlers;
  /** Unacked results resent after reconnect, per frame. */
  resendChunk?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Give up on a connection that sends no welcome within this long (ms). */
  welcomeTimeoutMs?: number;
  /**
   * While more than this many jobs are held, pulls wait until at least this many credits are
   * free (default a tenth of the capacity). A busy node that asked for each freed slot on its
   * own made the hub run a claim per handful of jobs.
   */
  pullBatch?: number;
}

export class LeaseClient {
  private ws: WebSocket | null = null;
  private ready = false;
  private stopped = false;
  private outstanding = 0;
  private attempt = 0;
  private pending: DeliveryResult[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private welcomeTimer: NodeJS.Timeout | null = null;
  private pumpQueued = false;
  private pullsPaused = false;
  private readonly url: string;
  /** A journal write is queued behind the one in progress: results arriving meanwhile join it. */
  private flushQueued = false;
  private readonly resendChunk: number;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly welcomeTimeoutMs: number;
  private readonly pullBatch: number;
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly opts: LeaseClientOptions) {
    const u = new URL(opts.edge);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/nodes/connect';
    this.url = u.toString();
    this.resendChunk = opts.resendChunk ?? 1000;
    this.minBackoff = opts.reconnectMinMs ?? 500;
    this.maxBackoff = opts.reconnectMaxMs ?? 30_000;
    this.welcomeTimeoutMs = opts.welcomeTimeoutMs ?? 10_000;
    this.pullBatch = Math.max(1, opts.pullBatch ?? Math.floor(opts.capacity / 10));
  }

  get connected(): boolean {
    return this.ready;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Resolves at the next welcome (or at once when welcomed already). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, {
      headers: { Authorization: `Bearer ${this.opts.token}` },
      handshakeTimeout: this.welcomeTimeoutMs,
      maxPayload: 256 * 1024 * 1024,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.opts.logger.info({ url: this.url }, 'connected to lease hub; sending hello');
      this.send({
        type: 'hello',
        v: PROTOCOL_VERSION,
        nodeId: this.opts.nodeId,
        region: this.opts.region,
        version: this.opts.version,
        ips: this.opts.ips,
        capacity: this.opts.capacity,
      });
      this.welcomeTimer = setTimeout(() => {
        this.opts.logger.warn('no welcome from the hub in time; reconnecting');
        ws.terminate();
      }, this.welcomeTimeoutMs);
    });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      const parsed = parseHubFrame(text);
      if (!parsed.ok) {
        this.opts.logger.warn({ error: parsed.error }, 'bad frame from hub; ignored');
        return;
      }
      this.onFrame(parsed.frame).catch((err) => this.opts.logger.error({ err }, 'handling a hub frame failed'));
    });
    ws.on('unexpected-response', (_req, res) => {
      this.opts.logger.error({ status: res.statusCode }, 'hub refused the connection');
      ws.terminate();
    });
    ws.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'lease hub connection error'));
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.onDisconnect(code, reason.toString());
    });
  }

  private onDisconnect(code: number, reason: string): void {
    this.ws = null;
    this.ready = false;
    this.outstanding = 0;
    if (this.welcomeTimer) clearTimeout(this.welcomeTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    if (this.stopped) return;
    const cap = Math.min(this.maxBackoff, this.minBackoff * 2 ** this.attempt++);
    const delay = Math.round(cap / 2 + Math.random() * (cap / 2));
    this.opts.logger.info({ code, reason, delayMs: delay }, 'lease hub connection closed; reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private async onFrame(frame: HubToNode): Promise<void> {
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(frame);
      case 'lease':
        this.outstanding = Math.max(0, this.outstanding - frame.jobs.length);
        this.opts.handlers.onLease(frame);
        return;
      case 'ack': {
        const n = await this.opts.journal.markAcked(frame.jobIds);
        this.opts.handlers.onAck?.(frame.jobIds, n);
        return;
      }
      case 'extended':
        this.opts.handlers.onExtended?.(frame.leases);
        return;
      case 'error':
        this.opts.logger[frame.fatal ? 'error' : 'warn']({ code: frame.code, message: frame.message, fatal: frame.fatal }, 'error frame from hub');
        if (frame.fatal) this.ws?.close(4000, 'fatal error from hub');
        return;
    }
  }

  private async onWelcome(welcome: Welcome): Promise<void> {
    if (this.welcomeTimer) clearTimeout(this.welcomeTimer);
    this.attempt = 0;
    this.opts.handlers.onWelcome(welcome);
    const ws = this.ws;
    // Unacknowledged results go first, so a partition never becomes a second send (protocol.ts).
    await this.flushNow(false);
    const unacked = this.opts.journal.unackedResults();
    for (let i = 0; i < unacked.length; i += this.resendChunk) {
      this.send({ type: 'results', v: PROTOCOL_VERSION, results: unacked.slice(i, i + this.resendChunk) });
    }
    if (unacked.length) this.opts.logger.info({ count: unacked.length }, 'resent unacknowledged results');
    if (this.ws !== ws || !ws) return;
    this.ready = true;
    if (welcome.heartbeatMs > 0) {
      this.heartbeatTimer = setInterval(() => {
        const leaseIds = this.opts.handlers.heldLeaseIds();
        if (leaseIds.length) this.send({ type: 'heartbeat', v: PROTOCOL_VERSION, leaseIds });
      }, welcome.heartbeatMs);
      this.heartbeatTimer.unref();
    }
    for (const r of this.readyWaiters.splice(0)) r();
    this.pump();
  }

  private releases = new Map<string, { retryAfterMs: number; leases: Array<{ jobId: string; leaseId: string }> }>();

  /**
   * Gives a lease back unstarted (frames of one event-loop turn are coalesced per reason). Not
   * journaled: if the frame is lost, the lease expires and the job is queued again anyway.
   */
  release(job: { jobId: string; leaseId: string }, reason: string, retryAfterMs: number): void {
    const key = `${retryAfterMs}|${reason}`;
    const batch = this.releases.get(key);
    if (batch) return void batch.leases.push({ jobId: job.jobId, leaseId: job.leaseId });
    this.releases.set(key, { retryAfterMs, leases: [{ jobId: job.jobId, leaseId: job.leaseId }] });
    if (this.releases.size === 1) {
      queueMicrotask(() => {
        const all = [...this.releases.entries()];
        this.releases.clear();
        for (const [k, { retryAfterMs: delay, leases }] of all) {
          const why = k.slice(k.indexOf('|') + 1).slice(0, 512);
          for (let i = 0; i < leases.length; i += 10_000) this.send({ type: 'release', v: PROTOCOL_VERSION, leases: leases.slice(i, i + 10_000), reason: why, retryAfterMs: delay });
        }
      });
    }
  }

  private send(frame: NodeToHub): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encodeFrame(frame));
    return true;
  }

  /**
   * Asks for as many jobs as there is free capacity (coalesced to one pull per tick). A node
   * with little work asks at once, so a new message never waits for a batch to fill; a busy
   * one asks in batches of `pullBatch`.
   */
  pump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      if (!this.ready || this.pullsPaused || this.stopped) return;
      const free = this.opts.handlers.freeCapacity();
      const credits = Math.min(10_000, free - this.outstanding);
      if (credits <= 0) return;
      const held = this.opts.capacity - free;
      if (held > this.pullBatch && credits < this.pullBatch) return;
      if (this.send({ type: 'pull', v: PROTOCOL_VERSION, credits })) this.outstanding += credits;
    });
  }

  /** Stops asking for work (stop and drain). */
  pausePulls(): void {
    this.pullsPaused = true;
  }

  /**
   * Journals a result at once (group commit): a write starts as soon as the one in progress is
   * durable and takes every result that arrived meanwhile. A 250 is thus on disk within one
   * fsync of its arrival, so a crash re-sends only what was still on the wire; a timer-batched
   * journal lost tens of ms of delivered mail to a kill -9 (sent again after the restart).
   */
  report(result: DeliveryResult): void {
    this.pending.push(result);
    if (this.flushQueued) return;
    this.flushQueued = true;
    void this.flushNow(true);
  }

  /** Journals (fsync) what waits, then sends it when connected. Batches never overlap. */
  flushNow(sendToHub = true): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    const run = async () => {
      this.flushQueued = false;
      const batch = this.pending.splice(0);
      if (batch.length === 0) return;
      try {
        await this.opts.journal.appendResults(batch);
      } catch (err) {
        // Never report what is not durable: keep the batch and try again shortly.
        this.pending.unshift(...batch);
        this.opts.logger.error({ err }, 'journaling results failed; retrying');
        if (!this.flushTimer && !this.stopped) this.flushTimer = setTimeout(() => void this.flushNow(sendToHub), 1_000);
        return;
      }
      // Not ready: the batch is in the journal and goes out with the resend after welcome.
      if (sendToHub && this.ready) {
        for (let i = 0; i < batch.length; i += this.resendChunk) {
          this.send({ type: 'results', v: PROTOCOL_VERSION, results: batch.slice(i, i + this.resendChunk) });
        }
      }
    };
    this.flushing = this.flushing.then(run, run).catch((err) => {
      this.opts.logger.error({ err }, 'journaling results failed');
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.flushNow(true);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.welcomeTimer) clearTimeout(this.welcomeTimer);
    this.ready = false;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1_000);
        ws.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        ws.close(1000, 'node stopping');
      });
    }
  }
}
