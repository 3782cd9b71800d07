/**
 * What a LeaseHub is built from. A leaf of the hub's modules: each part (sessions, dispatch,
 * results, sweeper) reads the options it needs from here rather than from ./hub.ts, which
 * imports them all.
 */
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Secrets } from '../ports/secrets.ts';
import type { Store } from '../ports/store.ts';
import type { ClassifierTable } from '../../shared/policy/classifier.ts';
import type { Shaper } from './shaping.ts';
import type { TransitionContext } from './transitions.ts';

export interface HubOptions {
  store: Store;
  secrets: Secrets;
  logger: Logger;
  metrics?: Metrics;
  leaseTtlMs: number;
  heartbeatMs: number;
  now?: () => number;
  random?: () => number;
  retryOverride?: TransitionContext['retryOverride'];
  /**
   * The reply classifier of the shaping policy in force (`classifierFor(policy)`): the operator's
   * reply rules and retry schedules decide each result's transition. Absent: the shipped table.
   */
  classifier?: ClassifierTable;
  /**
   * Regions with a connected node anywhere. Defaults to this hub's own sessions; a hub that
   * serves one region of several (a Durable Object per region) asks its peers.
   */
  connectedRegions?: () => Promise<string[]>;
  /** Reputation-aware shaping; without it every ready job is leased as fast as nodes pull. */
  shaper?: Shaper;
}
