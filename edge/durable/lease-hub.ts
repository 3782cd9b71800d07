/**
 * The lease hub Durable Object, one per region (`LEASE_HUB.idFromName(region)`). It holds the
 * region's MTA node WebSockets with the hibernation API and runs the shared LeaseHub on them:
 * sessions and granting in edge/hub/hub.ts, the atomic claim in the store. Alarms, not timers,
 * expire leases and offer retries that came due.
 *
 * Hibernation: while nodes are connected the alarm fires every POSTLANE_HUB_TICK_MS, so the
 * object stays in memory. If it is evicted anyway, the hub's sessions (credits, keys sent) are
 * gone; the sockets survive, so on wake every surviving socket is closed with 4012 and its node
 * reconnects, resends unacknowledged results and says hello again (protocol.ts).
 *
 * The hub itself (Shaper, WarmupGate, LeaseHub) is composed by edge/compose.ts, as on Node.
 */
import { DurableObject } from 'cloudflare:workers';
import type { NodeConnection } from '../hub/hub.ts';
import { composeHub, hubPort, type ComposedHub, type LeaseHubPortFull } from '../compose.ts';
import { DurableCounters } from './counters-client.ts';
import { memoryMetrics } from '../metrics.ts';
import type { FeedbackSignal, LiveWarmup, NodeSummary } from '../ports/lease-hub.ts';
import type { NodeTokenRecord } from '../ports/store.ts';
import type { Settings } from '../settings.ts';
import { workerRuntime, type WorkerBindings } from './env.ts';
import { REGION_HEADER, TOKEN_HEADER } from './hub-client.ts';
import type { Logger } from '../logger.ts';

/** Close code asking a node to reconnect and say hello again: its session was lost. */
export const SESSION_LOST = 4012;
export { TOKEN_HEADER, REGION_HEADER } from './hub-client.ts';

interface Attachment {
  key: string;
  token: NodeTokenRecord;
}

type Reputation = Awaited<ReturnType<LeaseHubPortFull['reputation']>>;

export class LeaseHubObject extends DurableObject<WorkerBindings> {
  private composed!: ComposedHub;
  /** The same port the Node edge serves from its hub: the RPC methods answer from it. */
  private port!: LeaseHubPortFull;
  private settings!: Settings;
  private logger!: Logger;
  private region: string | null = null;
  private readonly conns = new Map<string, NodeConnection>();

  constructor(ctx: DurableObjectState, env: WorkerBindings) {
    super(ctx, env);
    for (const ws of ctx.getWebSockets()) {
      try {
        ws.close(SESSION_LOST, 'lease hub restarted; reconnect and say hello');
      } catch {}
    }
    void ctx.blockConcurrencyWhile(async () => {
      const rt = await workerRuntime(env, 'lease-hub');
      this.settings = rt.settings;
      this.logger = rt.logger;
      // Budgets live in the RateCounter objects, so every region's hub draws from the same
      // provider and IP buckets; AIMD, breaker and warm-up counts are this region's own.
      this.composed = composeHub(rt.settings, {
        ...rt,
        counters: new DurableCounters(env.RATE_COUNTER),
        metrics: memoryMetrics(),
        connectedRegions: () => this.connectedRegions(),
      });
      this.port = hubPort(this.composed);
      // Breakers, rates and suspensions in force before this object was (re)started.
      await this.hub.restoreShaping().catch((error) => this.logger.warn({ err: String(error) }, 'could not restore shaping state'));
    });
  }

  private get hub() {
    return this.composed.hub;
  }

  /** A node's upgrade request, its token already checked by the Worker. */
  async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('WebSocket upgrade required', { status: 426, headers: { Upgrade: 'websocket' } });
    }
    const token = JSON.parse(request.headers.get(TOKEN_HEADER) ?? 'null') as NodeTokenRecord | null;
    if (!token) return new Response('no node token', { status: 401 });
    this.region = request.headers.get(REGION_HEADER) ?? token.region;

    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    const key = crypto.randomUUID();
    server.serializeAttachment({ key, token } satisfies Attachment);
    const conn = this.connection(server);
    this.conns.set(key, conn);
    this.hub.open(conn, token);
    await this.ensureAlarm();
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    const conn = this.lookup(ws);
    if (!conn) return;
    await this.hub.message(conn, typeof message === 'string' ? message : new TextDecoder().decode(message));
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string) {
    this.drop(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {}
  }

  async webSocketError(ws: WebSocket) {
    this.drop(ws);
  }

  /** Expire leases, offer retries that came due, note unroutable jobs; again while nodes are here. */
  async alarm() {
    await this.hub.tick();
    if (this.ctx.getWebSockets().length > 0) await this.ctx.storage.setAlarm(Date.now() + this.composed.tickMs);
  }

  /** RPC from the Worker: new work was committed. */
  notify(): void {
    this.port.notifyWork(null);
  }

  /** RPC: the region's welcomed nodes. */
  summaries(): Promise<NodeSummary[]> {
    return this.port.nodes();
  }

  /** RPC: a complaint or late bounce for this region's breakers (and the outreach guard). */
  feedback(signal: FeedbackSignal): Promise<void> {
    return this.port.feedback(signal);
  }

  /** RPC: this hub's live warm-up counts. */
  warmups(): Promise<LiveWarmup[]> {
    return this.port.warmups();
  }

  /** RPC: a warm-up was started or stopped through the API. */
  warmupsChanged(): Promise<void> {
    return this.port.warmupsChanged();
  }

  /** RPC: this region's shaping state (breakers, adaptive rates, suspended IPs). */
  reputation(): Promise<Reputation> {
    return this.port.reputation();
  }

  private connection(ws: WebSocket): NodeConnection {
    return {
      send: (text) => ws.send(text),
      close: (code, reason) => ws.close(code, reason),
    };
  }

  private lookup(ws: WebSocket): NodeConnection | null {
    const att = ws.deserializeAttachment() as Attachment | null;
    const conn = att ? this.conns.get(att.key) : undefined;
    if (conn) return conn;
    // A socket from before the object was evicted: its session is gone.
    try {
      ws.close(SESSION_LOST, 'session lost; reconnect and say hello');
    } catch {}
    return null;
  }

  private drop(ws: WebSocket) {
    const att = ws.deserializeAttachment() as Attachment | null;
    const conn = att ? this.conns.get(att.key) : undefined;
    if (!conn || !att) return;
    this.conns.delete(att.key);
    this.hub.closed(conn);
  }

  private async ensureAlarm() {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + this.composed.tickMs);
  }

  /** Regions with a welcomed node: this one from memory, the others by asking their hubs. */
  private async connectedRegions(): Promise<string[]> {
    const own = new Set(this.hub.summaries().map((s) => s.region));
    const others = this.settings.POSTLANE_REGIONS.filter((r) => r !== this.region && !own.has(r));
    const answers = await Promise.all(
      others.map(async (r) => {
        try {
          const nodes = await this.env.LEASE_HUB.get(this.env.LEASE_HUB.idFromName(r)).summaries();
          return nodes.length > 0 ? r : null;
        } catch (error) {
          this.logger.warn({ err: String(error), region: r }, 'could not ask a peer hub for its nodes');
          // Unknown is not "empty": do not mark that region's jobs as waiting.
          return r;
        }
      }),
    );
    return [...own, ...answers.filter((r): r is string => r !== null)];
  }
}
