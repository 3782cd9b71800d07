/**
 * The node-token check (edge/services/node-auth.ts), one function for both runtimes, and the
 * Node edge's WebSocket upgrade over it: a store outage is 503 + Retry-After (the node comes
 * back), never 401 (which would read as a revoked token).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { authenticateNode, NODE_AUTH_RETRY_AFTER_SECONDS } from '../../edge/services/node-auth.ts';
import { acceptNodeUpgrades } from '../../edge/adapters/node-server.ts';
import { guardStore } from '../../edge/store/guarded.ts';
import type { LeaseHub } from '../../edge/hub/hub.ts';
import type { NodeTokenRecord, Store } from '../../edge/ports/store.ts';
import { consoleLogger } from '../../edge/logger.ts';
import { sha256Hex } from '../../shared/ids.ts';

const TOKEN = 'plnode_contract_token_0123456789';
const RECORD: NodeTokenRecord = { id: 'ntk_1', region: 'eu', allowedIps: ['*'] };

type Lookup = (hash: string) => Promise<NodeTokenRecord | null>;
/** A store with only the lookup, behind the same guard as the edge's. */
const storeWith = (findNodeToken: Lookup) => guardStore({ findNodeToken } as unknown as Store, 1000);
const refused = () => {
  throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' });
};
const known: Lookup = async (hash) => (hash === (await sha256Hex(TOKEN)) ? RECORD : null);

describe('authenticateNode', () => {
  test('a known bearer token gives its record', async () => {
    assert.deepEqual(await authenticateNode(storeWith(known), `Bearer ${TOKEN}`), RECORD);
  });

  test('no header, another scheme or an unknown token: unauthorized', async () => {
    for (const header of [undefined, null, '', `Basic ${TOKEN}`, 'Bearer', 'Bearer plnode_other_token_000000000']) {
      assert.equal(await authenticateNode(storeWith(known), header), 'unauthorized', String(header));
    }
  });

  test('a store that cannot answer: unavailable (refused, timed out)', async () => {
    assert.equal(await authenticateNode(storeWith(async () => refused()), `Bearer ${TOKEN}`), 'unavailable');
    const hung = guardStore({ findNodeToken: () => new Promise(() => {}) } as unknown as Store, 100);
    assert.equal(await authenticateNode(hung, `Bearer ${TOKEN}`), 'unavailable');
  });

  test('any other store error is a bug: thrown', async () => {
    const broken = storeWith(async () => {
      throw new Error('no such column: token_hash');
    });
    await assert.rejects(authenticateNode(broken, `Bearer ${TOKEN}`), /no such column/);
  });
});

describe('the Node edge upgrade', () => {
  let server: Server;
  let url: string;
  let lookup: Lookup = known;
  const opened: NodeTokenRecord[] = [];
  const hub = { open: (_conn: unknown, token: NodeTokenRecord) => opened.push(token), message: async () => {}, closed: () => {} } as unknown as LeaseHub;

  before(async () => {
    server = createServer((_req, res) => res.writeHead(404).end());
    acceptNodeUpgrades(server, { store: storeWith((hash) => lookup(hash)), hub, logger: consoleLogger('silent') });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/nodes/connect`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** The upgrade's answer: 101 (opened), or the refusal's status and Retry-After. */
  const dial = (token: string, path = '') =>
    new Promise<{ status: number; retryAfter?: string }>((resolve, reject) => {
      const ws = new WebSocket(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      ws.once('open', () => {
        ws.terminate();
        resolve({ status: 101 });
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
        res.resume();
        ws.terminate();
      });
      ws.once('error', (err) => reject(err));
    });

  test('a known token is accepted and handed to the hub', async () => {
    lookup = known;
    assert.equal((await dial(TOKEN)).status, 101);
    assert.deepEqual(opened.at(-1), RECORD);
  });

  test('an unknown token is 401', async () => {
    lookup = known;
    assert.deepEqual(await dial('plnode_wrong_token_000000000000'), { status: 401, retryAfter: undefined });
  });

  test('the store unavailable: 503 with Retry-After, not 401', async () => {
    lookup = async () => refused();
    assert.deepEqual(await dial(TOKEN), { status: 503, retryAfter: String(NODE_AUTH_RETRY_AFTER_SECONDS) });
  });
});
