/**
 * The MTA node: takes leases from the hub, prepares each message once (CRLF-normalised, DKIM
 * signed once per message and signing domain), delivers each job through the SMTP pools and
 * reports results through the journal. See lease-client.ts for the protocol side.
 */
import { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { startStatusServer, type StatusServer } from './status-server.ts';
import type { DeliveryResult, DkimKey, HubLease, LeasedJob, SourceIp } from '../shared/protocol.ts';
import { NODE_VERSION, type StaticRoutes } from './config.ts';
import { DkimSignerPool, normalizeLineEnds } from './dkim.ts';
import { deliverJob, localResult, SourceIpPicker, type NotStarted } from './deliver.ts';

const DEFAULT_SESSION_WAIT_MS = 30_000;
const DEFAULT_RELEASE_DELAY_MS = 10_000;
import { Journal } from './journal.ts';
import { LeaseClient } from './lease-client.ts';
import { createLogger, type Logger } from './log.ts';
import { MxResolver, type DnsLike } from './mx.ts';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS, SmtpPools, type PoolLimits, type SmtpTimeouts } from './smtp-pool.ts';

export interface MtaNodeOptions {
  /** ws:// or wss:// URL of the edge; `/v1/nodes/connect` is used when no path is given. */
  edge: string;
  token: string;
  region: string;
  nodeId: string;
  ips: SourceIp[];
  /** Deliveries in flight at once; pulls never ask for more. */
  capacity: number;
  journalPath: string;
  dnsServers?: string[];
  /** Static routes by domain (`*` for any): host:port used instead of MX. */
  routes?: StaticRoutes | Record<string, { host: string; port: number }>;
  timeouts?: Partial<SmtpTimeouts>;
  /** Pool limits for every destination… */
  limits?: Partial<PoolLimits>;
  /** …and per provider (the job's `provider`). */
  providerLimits?: Record<string, Partial<PoolLimits>>;
  /** DKIM worker threads (default: cores; 0 signs in-thread). */
  dkimWorkers?: number;
  /** Verify certificates for jobs with requireTls (default true). */
  verifyTlsWhenRequired?: boolean;
  /** Credits per pull while the node is busy (lease-client.ts; default a tenth of the capacity). */
  pullBatch?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long stop() waits for deliveries in flight (ms). */
  drainTimeoutMs?: number;
  /**
   * Longest a job waits for a session to its destination before the node gives its lease back
   * (default 30 s), and how long the hub then holds it before leasing it again (default 10 s).
   * One slow destination thus holds only its own sessions and their short queue, not the node.
   */
  sessionWaitMs?: number;
  releaseDelayMs?: number;
  journal?: { maxBytes?: number; keepTerminal?: number; fsync?: boolean };
  /** Prometheus registry to register the node's metrics on (the embedded node shares the edge's). */
  registry?: Registry;
  /** Serve GET /metrics and GET /healthz on this port (0: any free one); none when unset. */
  statusPort?: number;
  /** Address of the status port (default 127.0.0.1). */
  statusHost?: string;
  logger?: Logger;
  /** DNS stub (tests). */
  dns?: DnsLike;
  version?: string;
}

export interface MtaNodeStats {
  delivered: number;
  deferred: number;
  bounced: number;
  fromJournal: number;
  /** Leases dropped because they expired before sending. */
  dropped: number;
  /** Leases given back unstarted (their destination had no session in time). */
  released: number;
  inFlight: number;
  leased: number;
}

interface HeldMessage {
  raw: string;
  refs: number;
}

export class MtaNode {
  readonly events = new EventEmitter();
  readonly stats: MtaNodeStats = { delivered: 0, deferred: 0, bounced: 0, fromJournal: 0, dropped: 0, released: 0, inFlight: 0, leased: 0 };
  readonly logger: Logger;
  private readonly journal: Journal;
  private readonly mx: MxResolver;
  private readonly pools: SmtpPools;
  private dkim: DkimSignerPool | null = null;
  private readonly client: LeaseClient;
  private readonly held = new Map<string, LeasedJob>();
  /** A held job's current lease expiry when the hub extended it past `leaseExpiresAt`, by job id. */
  private readonly leaseExpiry = new Map<string, number>();
  private readonly messages = new Map<string, HeldMessage>();
  private readonly prepared = new Map<string, { refs: number; body: Promise<Buffer> }>();
  /** Jobs holding a reference on a prepared body. */
  private readonly preparedBy = new Set<string>();
  /** Signing keys by key id (tenant, domain, selector), never by domain: names are not unique across tenants. */
  private keys = new Map<string, DkimKey>();
  private picker = new SourceIpPicker([]);
  private acceptedIps: SourceIp[] = [];
  /** Per-provider session limits: the hub's table (from its welcome) under this node's own. */
  private providerLimits: Record<string, Partial<PoolLimits>> = {};
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly registry: Registry;
  private status: StatusServer | null = null;
  private readonly metrics: {
    results: Counter<'outcome'>;
    duration: Histogram<'outcome'>;
    inFlight: Gauge;
    connections: Gauge;
    connectsTotal: Counter;
  };

  constructor(private readonly options: MtaNodeOptions) {
    this.logger = options.logger ?? createLogger();
    this.journal = new Journal({ path: options.journalPath, logger: this.logger, ...options.journal });
    const routes = options.routes instanceof Map ? options.routes : new Map(Object.entries(options.routes ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    this.mx = new MxResolver({ servers: options.dnsServers, routes, resolver: options.dns });
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    this.metrics = {
      results: new Counter({ name: 'postlane_node_results_total', help: 'Delivery results by outcome', labelNames: ['outcome'], registers: [registry] }),
      duration: new Histogram({
        name: 'postlane_node_delivery_seconds',
        help: 'Time from start of an attempt to its result',
        labelNames: ['outcome'],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        registers: [registry],
      }),
      inFlight: new Gauge({ name: 'postlane_node_inflight', help: 'Jobs held by the node', registers: [registry] }),
      connections: new Gauge({ name: 'postlane_node_smtp_connections', help: 'Open SMTP connections', registers: [registry] }),
      connectsTotal: new Counter({ name: 'postlane_node_smtp_connects_total', help: 'SMTP connections opened', registers: [registry] }),
    };
    this.pools = new SmtpPools({ ...DEFAULT_TIMEOUTS, ...options.timeouts }, this.logger, {
      onConnect: () => {
        this.metrics.connectsTotal.inc();
        this.metrics.connections.inc();
      },
      onClose: () => this.metrics.connections.dec(),
    });
    this.client = new LeaseClient({
      edge: options.edge,
      token: options.token,
      nodeId: options.nodeId,
      region: options.region,
      version: options.version ?? NODE_VERSION,
      ips: options.ips,
      capacity: options.capacity,
      journal: this.journal,
      logger: this.logger,
      pullBatch: options.pullBatch,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      handlers: {
        onWelcome: (w) => {
          // Keys are sent once per session: a new session starts with none.
          this.keys = new Map();
          const declared = new Set(options.ips.map((i) => i.address));
          this.acceptedIps = w.acceptedIps.filter((i) => declared.has(i.address));
          this.picker = new SourceIpPicker(this.acceptedIps);
          // The hub's provider table sets connection shaping; this node's own settings win.
          const fromHub = w.providerLimits ?? {};
          const local = options.providerLimits ?? {};
          this.providerLimits = Object.fromEntries([...new Set([...Object.keys(fromHub), ...Object.keys(local)])].map((p) => [p, { ...fromHub[p], ...local[p] }]));
          if (this.acceptedIps.length < options.ips.length) {
            this.logger.warn({ accepted: this.acceptedIps.map((i) => i.address) }, 'hub accepted only some of the declared IPs');
          }
          this.events.emit('welcome', w);
        },
        onLease: (lease) => this.onLease(lease),
        onAck: (jobIds, n) => this.events.emit('ack', jobIds, n),
        onExtended: (leases) => this.onExtended(leases),
        freeCapacity: () => (this.stopping ? 0 : options.capacity - this.held.size),
        heldLeaseIds: () => [...this.held.values()].map((j) => j.leaseId),
      },
    });
  }

  /** Opens the journal, starts the signing workers and connects to the hub. */
  async start(): Promise<void> {
    await this.journal.open();
    this.dkim = new DkimSignerPool({ size: this.options.dkimWorkers, logger: this.logger });
    this.client.start();
    if (this.options.statusPort !== undefined) {
      this.status = await startStatusServer({ port: this.options.statusPort, host: this.options.statusHost, registry: this.registry, connected: () => this.connected, draining: () => this.stopping });
    }
    this.logger.info({ nodeId: this.options.nodeId, region: this.options.region, capacity: this.options.capacity, dkimWorkers: this.dkim.workers, status: this.status?.url }, 'MTA node started');
  }

  /** The status port's URL (GET /metrics, GET /healthz), when one was asked for. */
  get statusUrl(): string | null {
    return this.status?.url ?? null;
  }

  /** Resolves once the hub has welcomed the node and the unacked results were resent. */
  whenConnected(): Promise<void> {
    return this.client.whenReady();
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Results the hub has not acknowledged yet. */
  unackedResults(): DeliveryResult[] {
    return this.journal.unackedResults();
  }

  get openConnections(): number {
    return this.pools.openConnections;
  }

  private onLease(lease: HubLease): void {
    for (const k of lease.keys) this.keys.set(k.keyId, k);
    for (const m of lease.messages) {
      const held = this.messages.get(m.messageId);
      if (held) held.raw = m.raw;
      else this.messages.set(m.messageId, { raw: m.raw, refs: 0 });
    }
    this.stats.leased += lease.jobs.length;
    for (const job of lease.jobs) {
      if (this.held.has(job.jobId)) {
        this.logger.warn({ jobId: job.jobId, leaseId: job.leaseId }, 'job leased while already held; ignored');
        continue;
      }
      const msg = this.messages.get(job.messageId);
      if (msg) msg.refs++;
      this.held.set(job.jobId, job);
      void this.run(job);
    }
    // Messages of this lease no job refers to.
    for (const m of lease.messages) {
      const held = this.messages.get(m.messageId);
      if (held && held.refs === 0) this.messages.delete(m.messageId);
    }
    this.updateGauge();
    this.events.emit('lease', lease);
  }

  /** The hub extended these leases: the jobs that hold them may be sent until the new expiry. */
  private onExtended(leases: Array<{ leaseId: string; leaseExpiresAt: number }>): void {
    if (leases.length === 0) return;
    const byLease = new Map(leases.map((l) => [l.leaseId, l.leaseExpiresAt]));
    for (const job of this.held.values()) {
      const at = byLease.get(job.leaseId);
      if (at !== undefined && at > (this.leaseExpiry.get(job.jobId) ?? job.leaseExpiresAt)) this.leaseExpiry.set(job.jobId, at);
    }
  }

  private updateGauge(): void {
    this.stats.inFlight = this.held.size;
    this.metrics.inFlight.set(this.held.size);
  }

  private async run(job: LeasedJob): Promise<void> {
    let result: DeliveryResult | NotStarted | null = null;
    try {
      result = await this.process(job);
    } catch (err) {
      this.logger.error({ err, jobId: job.jobId }, 'delivery failed unexpectedly');
      result = localResult({ job, mx: null, sourceIp: null, tls: null, startedAt: Date.now() }, 'deferred', 'LOCAL', `internal error: ${(err as Error).message}`);
    } finally {
      this.held.delete(job.jobId);
      this.leaseExpiry.delete(job.jobId);
      const msg = this.messages.get(job.messageId);
      if (msg && --msg.refs <= 0) this.messages.delete(job.messageId);
      const pkey = `${job.messageId}|${job.dkimKeyId ?? ''}`;
      const prep = this.preparedBy.delete(job.jobId) ? this.prepared.get(pkey) : undefined;
      if (prep && --prep.refs <= 0) this.prepared.delete(pkey);
      this.updateGauge();
    }
    if (result && 'release' in result) {
      this.stats.released++;
      this.client.release(job, result.release, this.options.releaseDelayMs ?? DEFAULT_RELEASE_DELAY_MS);
      this.logger.info({ jobId: job.jobId, leaseId: job.leaseId, reason: result.release }, 'lease given back unstarted');
    } else if (result) this.record(result);
    else {
      this.stats.dropped++;
      this.logger.info({ jobId: job.jobId, leaseId: job.leaseId }, 'lease expired before sending; dropped (the hub re-queues it)');
    }
    if (this.held.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    this.client.pump();
  }

  private record(result: DeliveryResult): void {
    this.stats[result.outcome]++;
    if (result.fromJournal) this.stats.fromJournal++;
    this.metrics.results.inc({ outcome: result.outcome });
    this.metrics.duration.observe({ outcome: result.outcome }, Math.max(0, result.finishedAt - result.startedAt) / 1000);
    this.client.report(result);
    this.events.emit('result', result);
  }

  private async process(job: LeasedJob): Promise<DeliveryResult | NotStarted | null> {
    // The current expiry: heartbeats extend the lease (`extended` frames), not only the grant.
    const stillLeased = () => Date.now() < (this.leaseExpiry.get(job.jobId) ?? job.leaseExpiresAt);
    if (!stillLeased()) return null;
    // A dedup key the journal shows delivered or bounced is answered from the journal, not resent.
    const done = this.journal.terminalFor(job.dedupKey);
    if (done) return { ...done, jobId: job.jobId, leaseId: job.leaseId, fromJournal: true };
    const ctx = { job, mx: null, sourceIp: null, tls: null, startedAt: Date.now() };
    const source = this.picker.pick(job);
    if ('error' in source) return localResult(ctx, 'deferred', 'LOCAL', source.error);
    let body: Buffer;
    try {
      body = await this.preparedBody(job);
    } catch (err) {
      const stage = job.dkimDomain && !(err as Error).message.startsWith('message ') ? 'DKIM' : 'LOCAL';
      return localResult({ ...ctx, sourceIp: source.address }, 'deferred', stage, (err as Error).message);
    }
    return deliverJob(job, body, source, {
      mx: this.mx,
      pools: this.pools,
      ips: this.acceptedIps,
      limits: { ...DEFAULT_LIMITS, ...this.options.limits },
      providerLimits: this.providerLimits,
      verifyTlsWhenRequired: this.options.verifyTlsWhenRequired,
      sessionWaitMs: this.options.sessionWaitMs ?? DEFAULT_SESSION_WAIT_MS,
    }, stillLeased);
  }

  /** The bytes to send for a job: normalised and signed once per message and signing domain. */
  private preparedBody(job: LeasedJob): Promise<Buffer> {
    const pkey = `${job.messageId}|${job.dkimKeyId ?? ''}`;
    this.preparedBy.add(job.jobId);
    const hit = this.prepared.get(pkey);
    if (hit) {
      hit.refs++;
      return hit.body;
    }
    const msg = this.messages.get(job.messageId);
    let body: Promise<Buffer>;
    if (!msg) body = Promise.reject(new Error(`message ${job.messageId} was not sent with the lease`));
    else if (!job.dkimDomain) body = Promise.resolve(Buffer.from(normalizeLineEnds(msg.raw)));
    else {
      // Only the job's own key: the one its lease names, for the domain it signs as.
      const key = job.dkimKeyId ? this.keys.get(job.dkimKeyId) : undefined;
      if (!key || key.domain.toLowerCase() !== job.dkimDomain.toLowerCase()) body = Promise.reject(new Error(`no DKIM key for ${job.dkimDomain} in this session`));
      else body = this.dkim!.sign(msg.raw, key).then((s) => Buffer.from(s));
    }
    body.catch(() => undefined);
    this.prepared.set(pkey, { refs: 1, body });
    return body;
  }

  /**
   * Stops pulling, waits for deliveries in flight (up to drainTimeoutMs), journals and sends
   * their results, then closes the hub connection, the SMTP pools, the workers and the journal.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.client.pausePulls();
    const drainMs = this.options.drainTimeoutMs ?? 30_000;
    if (this.held.size > 0) {
      this.logger.info({ inFlight: this.held.size, drainMs }, 'draining deliveries in flight');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, drainMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (this.held.size > 0) this.logger.warn({ left: this.held.size }, 'drain timed out; their leases will expire and be re-queued');
    else this.logger.info('drained: no delivery in flight');
    await this.client.stop();
    await this.pools.close();
    await this.dkim?.close();
    await this.journal.close();
    await this.status?.close();
    this.logger.info('MTA node stopped');
  }
}
