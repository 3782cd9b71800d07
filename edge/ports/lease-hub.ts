/** The app's view of the lease hub: node connections are runtime-specific, work signals are not. */
import type { DeliveryJobRecord, WarmupProviderState } from '../domain/records.ts';
import type { NodeIp } from './store.ts';

export interface NodeSummary {
  nodeId: string;
  region: string;
  version: string;
  ips: NodeIp[];
  credits: number;
  leased: number;
  connectedAt: number;
}

/** A warm-up as the hub's gate holds it now: the store's row may lag by one hub tick. */
export interface LiveWarmup {
  id: string;
  status: string;
  dayStart: number;
  providers: Record<string, WarmupProviderState>;
}

export interface OutreachPauseRule {
  pauseOnComplaintRate: number;
  pauseMinVolume: number;
}

export interface FeedbackSignal {
  kind: 'complaint' | 'bounce';
  job: Pick<DeliveryJobRecord, 'id' | 'tenantId' | 'provider' | 'domain' | 'pool' | 'senderDomain' | 'lane'>;
  at: number;
  /** Outreach guard thresholds from the tenant's policy (outreach jobs only): per tenant, per sender domain. */
  outreach?: { tenant: OutreachPauseRule; domain: OutreachPauseRule };
}

export interface LeaseHubPort {
  /** New work is committed; wake nodes waiting with credits. */
  notifyWork(region: string | null): void;
  /** Takes the node's upgrade request (Worker: forwards to the region's Durable Object). */
  connect(request: Request, region: string): Promise<Response>;
  nodes(): Promise<NodeSummary[]>;
  /** Live shaping state (breakers, adaptive rates, suspended IPs) where the hub keeps it. */
  reputation(): Promise<{ breakers: Array<Record<string, unknown>>; rates: Array<Record<string, unknown>>; suspended_ips: Array<Record<string, unknown>> }>;
  /** Live warm-up counts where this hub enforces warm-ups (newer than the store's row). */
  warmups(): Promise<LiveWarmup[]>;
  /** A warm-up was started or stopped through the API: the hub reloads them now. */
  warmupsChanged(): Promise<void>;
  /**
   * A complaint or a late (async) bounce for a delivered job: fed to the breakers of its pool
   * and sender domain (and the outreach guard), where the hub keeps them. Optional: a hub that
   * does not take it yet (the Worker's) leaves the report recorded and suppressed, unsignalled.
   */
  feedback(signal: FeedbackSignal): Promise<void>;
}
