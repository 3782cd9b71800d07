/**
 * What `createApp(deps)` is given. It knows only these ports; the Node entry binds them to
 * libSQL and in-process implementations, the Worker to libSQL over HTTP and Durable Objects.
 * Anything runtime-specific lives behind one of them.
 */
import type { ShapingPolicy } from '../../shared/policy/providers.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Counters } from './counters.ts';
import type { LeaseHubPort } from './lease-hub.ts';
import type { MailDomains } from './mail-domains.ts';
import type { DnsRecords } from './dns-records.ts';
import type { Secrets } from './secrets.ts';
import type { Store } from './store.ts';
import type { WebhookConfig } from './webhooks.ts';

export interface AppConfig {
  maxMessageBytes: number;
  /** Requests in progress at once before new ones get 503 + Retry-After (absent: no bound). */
  maxConcurrentRequests?: number;
  /** Default per-tenant API rate, messages per second, and its burst. */
  tenantRatePerSec: number;
  tenantBurst: number;
  /** Queued jobs per tenant and lane past which new sends get 429. */
  laneBacklogLimit: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  /** Whether the from-domain must be DNS-verified, not only registered. */
  requireVerifiedDomain: boolean;
  /** Days of trailing baseline for reputation health and spike alerts (POSTLANE_BASELINE_DAYS); absent: 14. */
  baselineDays?: number;
  /** What the DNS records of a sending domain point at (absent: neither is set). */
  domainAuth?: {
    /** SPF advice is `include:<spfInclude>`; null: `ip4:`/`ip6:` of the connected nodes. */
    spfInclude: string | null;
    /** The return path's MX host; null: no MX advised, the return-path check is skipped. */
    intakeHost: string | null;
  };
  /**
   * The provider table in force (the shipped one with the operator's overrides): accept
   * assigns each recipient its provider from it, so a provider the operator adds is matched.
   */
  shapingPolicy?: ShapingPolicy;
  /** The platform's public https base for links in mail (one-click unsubscribe); absent: the origin a send request came in on. */
  publicUrl?: string;
  /** The host open/click tracking links point at; absent: publicUrl. */
  trackingBase?: string;
}

export interface AppDeps {
  store: Store;
  counters: Counters;
  hub: LeaseHubPort;
  secrets: Secrets;
  /** Recipient-domain checks at accept (outreach verification); absent: not checked. */
  mailDomains?: MailDomains;
  /** Sending-domain verification lookups (TXT, MX, CNAME, A); absent: domains cannot be verified here. */
  dnsRecords?: DnsRecords;
  config: AppConfig;
  /** Webhook URL checks and secret overlap (Node); absent: only IP-literal URLs can be checked. */
  webhooks?: WebhookConfig;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}
