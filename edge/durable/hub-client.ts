/**
 * The LeaseHubPort over the per-region LeaseHub Durable Objects. The Worker checks the node's
 * token (hash lookup in the store) before anything reaches a hub, then forwards the upgrade to
 * the hub of the token's region. Work signals are coalesced per region: one notify in flight,
 * at most one more queued behind it.
 */
import type { FeedbackSignal, LiveWarmup, NodeSummary } from '../ports/lease-hub.ts';
import type { Store } from '../ports/store.ts';
import type { Logger } from '../logger.ts';
import type { LeaseHubPortFull } from '../compose.ts';
import { authenticateNode, NODE_AUTH_RETRY_AFTER_SECONDS } from '../services/node-auth.ts';
import { ApiError } from '../../shared/errors.ts';
import type { LeaseHubObject } from './lease-hub.ts';

/** Header the Worker uses to hand the checked node token to the hub (never from outside). */
export const TOKEN_HEADER = 'x-postlane-node-token';
export const REGION_HEADER = 'x-postlane-hub-region';

export class DurableHubs implements LeaseHubPortFull {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();

  constructor(
    private readonly namespace: DurableObjectNamespace<LeaseHubObject>,
    private readonly regions: string[],
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  private hub(region: string) {
    return this.namespace.get(this.namespace.idFromName(region));
  }

  notifyWork(region: string | null): void {
    for (const r of region ? [region] : this.regions) this.poke(r);
  }

  /** Notifies still under way; the Worker hands them to `ctx.waitUntil`. */
  inFlight(): Promise<unknown> | null {
    return this.running.size ? Promise.allSettled([...this.running.values()]) : null;
  }

  private poke(region: string) {
    if (this.running.has(region)) {
      this.again.add(region);
      return;
    }
    const run = (async () => {
      do {
        this.again.delete(region);
        try {
          await this.hub(region).notify();
        } catch (error) {
          // Not fatal: the hub's alarm picks the work up within POSTLANE_HUB_TICK_MS.
          this.logger.warn({ err: String(error), region }, 'could not notify the lease hub');
        }
      } while (this.again.has(region));
    })().finally(() => this.running.delete(region));
    this.running.set(region, run);
  }

  async connect(request: Request, region: string): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('WebSocket upgrade required', { status: 426, headers: { Upgrade: 'websocket' } });
    }
    const token = await authenticateNode(this.store, request.headers.get('authorization'));
    // A store outage: 503 + Retry-After (the node retries), never a half-open socket.
    if (token === 'unavailable') {
      this.logger.warn({ region }, 'node connection deferred: the store is unavailable');
      throw new ApiError('store_unavailable', 'the store is not reachable; connect again shortly', {}, NODE_AUTH_RETRY_AFTER_SECONDS);
    }
    if (token === 'unauthorized') {
      this.logger.warn({ region }, 'node connection refused: bad or missing node token');
      throw new ApiError('unauthorized', 'a valid node token is required');
    }
    // `default` is the route's fallback when the node names no region: the token decides.
    if (region !== 'default' && region !== token.region) {
      throw new ApiError('forbidden', `this node token is for region ${token.region}, not ${region}`, { scope: 'region' });
    }
    const headers = new Headers(request.headers);
    headers.delete('authorization');
    headers.set(TOKEN_HEADER, JSON.stringify(token));
    headers.set(REGION_HEADER, token.region);
    return this.hub(token.region).fetch(new Request(request.url, { method: 'GET', headers }));
  }

  async nodes(): Promise<NodeSummary[]> {
    const all = await Promise.all(this.regions.map((r) => this.hub(r).summaries()));
    return all.flat();
  }

  /** Every region's hub keeps its own breakers for a pool that may serve it: each hears the signal. */
  async feedback(signal: FeedbackSignal): Promise<void> {
    await Promise.all(this.regions.map((r) => this.hub(r).feedback(signal)));
  }

  /** Live warm-up counts: a warm-up's sends are the sum over the region hubs that count it. */
  async warmups(): Promise<LiveWarmup[]> {
    const byId = new Map<string, LiveWarmup>();
    for (const list of await Promise.all(this.regions.map((r) => this.hub(r).warmups()))) {
      for (const w of list) {
        const seen = byId.get(w.id);
        if (!seen) byId.set(w.id, structuredClone(w));
        else for (const [provider, p] of Object.entries(w.providers)) {
          const mine = seen.providers[provider];
          if (!mine) seen.providers[provider] = structuredClone(p);
          else mine.sentToday += p.sentToday;
        }
      }
    }
    return [...byId.values()];
  }

  async warmupsChanged(): Promise<void> {
    await Promise.all(this.regions.map((r) => this.hub(r).warmupsChanged()));
  }

  /**
   * Each region's hub shapes its own leases: its breakers and adaptive rates are listed with the
   * region they belong to (the token buckets behind them are shared RateCounter objects).
   */
  async reputation() {
    const all = await Promise.all(this.regions.map(async (region) => ({ region, state: await this.hub(region).reputation() })));
    const tag = <T extends object>(region: string, rows: T[]) => rows.map((row) => ({ region, ...row }));
    return {
      breakers: all.flatMap((a) => tag(a.region, a.state.breakers)),
      rates: all.flatMap((a) => tag(a.region, a.state.rates)),
      suspended_ips: all.flatMap((a) => tag(a.region, a.state.suspended_ips)),
    };
  }
}
