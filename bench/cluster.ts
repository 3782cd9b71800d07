/**
 * The bench's cluster phase (dev/cluster): two workerd edge instances sharing Durable Objects,
 * sqld primary + replica, two MTA nodes (regions eu and us). The same measureE2E and
 * measureIngest as the embedded runs, so run.ts prints them as ratios against those. Its sink is
 * the cluster's smtp-server in this process, not smtp-sink. e2e runs first, on an empty queue;
 * then the nodes are stopped so ingest, like the embedded ingest run, measures the edge alone.
 */
import { sleep } from './lib/proc.ts';
import type { SmtpSink } from './lib/smtp.ts';
import { measureE2E, registerDomain, type E2EResult, type EdgeTarget, type LoadResult } from './lib/measure.ts';
import type { Cluster } from '../dev/cluster/index.ts';

export interface ClusterResults {
  single?: LoadResult;
  batch?: LoadResult;
  e2e?: E2EResult;
  /** Messages at the sink per node (by the EHLO name each node greets the sink with). */
  e2eBy?: Record<string, number>;
  e2eDuplicates?: number;
  error?: string;
}

export interface ClusterPhaseOptions {
  /** Shaping table for the Worker (POSTLANE_SHAPING_POLICY), the embedded runs' shaping file. */
  shaping: unknown;
  nodeCapacity: number;
  e2e: { messages: number; concurrency: number; batchSize: number; timeoutMs: number };
  /** The embedded runs' ingest measurement, pointed at the cluster's edges. */
  ingest(target: EdgeTarget, fromDomain: string, runId: string): Promise<{ single: LoadResult; batch: LoadResult }>;
  log(line: string): void;
}

/** Fills `out` as it goes, so a failure half way still reports what was measured. */
export async function phaseCluster(o: ClusterPhaseOptions, out: ClusterResults = {}): Promise<ClusterResults> {
  o.log('cluster: two workerd edges over sqld, two MTA nodes (dev/cluster)');
  let cluster: Cluster | null = null;
  try {
    // Imported here: miniflare and the cluster's modules load only when this phase runs.
    const { startCluster } = await import('../dev/cluster/index.ts');
    const started = startCluster({
      // Production lease timing, not the fault tests' 3 s TTL: under this load a heartbeat can
      // wait seconds for the store, and an expired lease is delivered twice.
      vars: { POSTLANE_TENANT_RATE: '1000000', POSTLANE_TENANT_BURST: '1000000', POSTLANE_LOG_LEVEL: 'error', POSTLANE_SHAPING_POLICY: JSON.stringify(o.shaping), POSTLANE_LEASE_TTL_MS: '60000', POSTLANE_HEARTBEAT_MS: '10000' },
      nodes: [
        { region: 'eu', nodeId: 'bench-eu', capacity: o.nodeCapacity },
        { region: 'us', nodeId: 'bench-us', capacity: o.nodeCapacity },
      ],
    });
    cluster = await Promise.race([started, sleep(180_000).then(() => Promise.reject(new Error('cluster did not start within 180 s')))]);
    const target: EdgeTarget = { label: 'cluster', urls: cluster.edges.map((e) => e.url), apiKey: cluster.apiKey };
    await registerDomain(target, 'shop.bench.test', 'rsa-sha256');
    const mails = cluster.sink.mails;
    // Counted by distinct recipient: a duplicate delivery must not make the run look complete.
    const recipients = new Set<string>();
    let counted = 0;
    const distinct = () => {
      for (; counted < mails.length; counted++) recipients.add(mails[counted].to.join(','));
      return recipients.size;
    };
    const sink: SmtpSink = {
      port: cluster.sink.port,
      get count() {
        return distinct();
      },
      async waitFor(n, timeoutMs) {
        const end = Date.now() + timeoutMs;
        while (distinct() < n && Date.now() < end) await sleep(10);
        return distinct() >= n ? Date.now() : null;
      },
      stop: async () => {},
    };
    o.log('cluster e2e: batches through both edges, delivered by bench-eu and bench-us');
    out.e2e = await measureE2E(target, sink, { messages: o.e2e.messages, concurrency: o.e2e.concurrency, batchSize: o.e2e.batchSize, fromDomain: 'shop.bench.test', toDomain: 'dest.bench.test', runId: 'cluster-e2e', timeoutMs: o.e2e.timeoutMs });
    out.e2eBy = Object.fromEntries([...cluster.nodes.keys()].map((id) => [id, mails.filter((m) => m.helo === `${id}.mta.test`).length]));
    out.e2eDuplicates = mails.length - distinct();
    for (const node of cluster.nodes.values()) await node.kill('SIGTERM');
    o.log('cluster ingest: nodes stopped, messages stay queued (as the embedded ingest run)');
    const { single, batch } = await o.ingest(target, 'shop.bench.test', 'cluster');
    out.single = single;
    out.batch = batch;
  } catch (err) {
    out.error = ((err as Error).message ?? String(err)).split('\n')[0].slice(0, 300);
  } finally {
    await cluster?.stop().catch(() => {});
  }
  return out;
}
