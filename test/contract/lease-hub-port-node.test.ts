/**
 * The LeaseHubPort contract against the Node edge's in-process port: the hub composed by
 * edge/compose.ts over a libSQL file, nodes dialing the same `ws` upgrade handler the Node edge
 * serves (edge/adapters/node-server.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leaseHubPortContract } from './lease-hub-port.contract.ts';
import { acceptNodeUpgrades, openDatabase } from '../../edge/adapters/node-server.ts';
import { parseNodeEnv } from '../../edge/adapters/node-config.ts';
import { composeHub, hubPort } from '../../edge/compose.ts';
import { LibsqlStore } from '../../edge/store/libsql-store.ts';
import { guardStore } from '../../edge/store/guarded.ts';
import { MemoryCounters } from '../../edge/adapters/memory-counters.ts';
import { createSecrets, newMasterKey } from '../../edge/secrets.ts';
import { consoleLogger } from '../../edge/logger.ts';
import { memoryMetrics } from '../../edge/metrics.ts';
import { newId, newSecret, sha256Hex } from '../../shared/ids.ts';
import type { Store } from '../../edge/ports/store.ts';

leaseHubPortContract('in-process hub (Node edge)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postlane-hub-port-'));
  const settings = parseNodeEnv({ POSTLANE_DATA_DIR: dir, POSTLANE_REGION: 'eu' });
  const { client, db } = await openDatabase(`file:${join(dir, 'db.sqlite')}`);
  const store = guardStore(new LibsqlStore(db), settings.POSTLANE_STORE_TIMEOUT_MS);
  const nodeToken = newSecret('plnode');
  await store.createNodeToken({ id: newId('ntk'), tokenHash: await sha256Hex(nodeToken), region: 'eu', allowedIps: ['*'], name: 'contract', now: Date.now() });
  const logger = consoleLogger('silent');
  const composed = composeHub(settings, { store, counters: new MemoryCounters(), secrets: await createSecrets(newMasterKey()), logger, metrics: memoryMetrics() });
  await composed.hub.restoreShaping();
  composed.hub.start(composed.tickMs);

  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  // The endpoint's token check goes through a switch that can make the store unreachable.
  let down = false;
  const lookup = guardStore(
    {
      findNodeToken: async (hash: string) => {
        if (down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' });
        return store.findNodeToken(hash);
      },
    } as unknown as Store,
    settings.POSTLANE_STORE_TIMEOUT_MS,
  );
  const wss = acceptNodeUpgrades(server, { store: lookup, hub: composed.hub, logger });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port: hubPort(composed),
    store,
    wsUrl: `ws://127.0.0.1:${port}/v1/nodes/connect`,
    nodeToken,
    region: 'eu',
    async storeDown() {
      down = true;
      return async () => {
        down = false;
      };
    },
    async close() {
      composed.hub.stop();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
