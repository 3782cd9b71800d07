/**
 * The LeaseHubPort contract (test/contract/lease-hub-port.contract.ts) against the Worker's
 * port: DurableHubs over the LeaseHubObject Durable Objects of the workerd cluster. The port is
 * driven from this process through a Miniflare that joins the cluster's dev registry and binds
 * LEASE_HUB to the objects process (as the edges do), so the calls reach the same hubs the edge
 * Workers use; nodes connect the way real ones do, through the front and an edge Worker.
 */
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { leaseHubPortContract } from '../contract/lease-hub-port.contract.ts';
import { startCluster } from '../../dev/cluster/index.ts';
import { OBJECTS_SCRIPT, WORKER_MODULE_RULES } from '../../dev/cluster/workerd.ts';
import { DurableHubs } from '../../edge/durable/hub-client.ts';
import { openDatabase } from '../../edge/adapters/node-server.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import { guardStore } from '../../edge/store/guarded.ts';
import { consoleLogger } from '../../edge/logger.ts';

leaseHubPortContract('Durable Object hubs (workerd cluster)', async () => {
  const cluster = await startCluster({ nodes: [] });
  let probe: Miniflare | null = null;
  let client: Awaited<ReturnType<typeof openDatabase>>['client'] | null = null;
  try {
    probe = new Miniflare({
      name: 'lease-hub-port-probe',
      modules: true,
      modulesRules: WORKER_MODULE_RULES,
      script: 'export default { fetch() { return new Response("probe"); } }',
      compatibilityDate: '2026-04-20',
      durableObjects: { LEASE_HUB: { className: 'LeaseHubObject', scriptName: OBJECTS_SCRIPT, useSQLite: true } },
      // startCluster keeps its dev registry in its data directory (dev/cluster/index.ts).
      unsafeDevRegistryPath: join(cluster.dataDir, 'dev-registry'),
    });
    await probe.ready;
    const namespace = await probe.getDurableObjectNamespace('LEASE_HUB');
    const db = await openDatabase(cluster.primary.url);
    client = db.client;
    const store = guardStore(new LibsqlStore(db.db, { groupCommit: false }), 5000);
    const port = new DurableHubs(namespace as never, cluster.regions, store, consoleLogger('silent'));
    const region = cluster.regions[0];
    return {
      port,
      store,
      wsUrl: `${cluster.frontUrl.replace(/^http/, 'ws')}/v1/nodes/connect`,
      nodeToken: cluster.nodeTokens[region],
      region,
      async storeDown() {
        await cluster.primary.kill();
        return () => cluster.primary.start();
      },
      async close() {
        await port.inFlight();
        client?.close();
        await probe?.dispose();
        await cluster.stop();
      },
    };
  } catch (error) {
    client?.close();
    await probe?.dispose().catch(() => {});
    await cluster.stop();
    throw error;
  }
});
