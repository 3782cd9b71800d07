/**
 * One contract for the LeaseHubPort, run against every implementation: the in-process port the
 * Node edge serves (test/contract/lease-hub-port-node.test.ts) and the Worker's DurableHubs over
 * the LeaseHubObject Durable Objects in workerd (test/cluster/lease-hub-port.test.ts). Nodes
 * connect the way real ones do: a WebSocket with a node token, then hello.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { LeaseHubPort } from '../../edge/ports/lease-hub.ts';
import type { Store } from '../../edge/ports/store.ts';
import { encodeFrame, parseHubFrame, PROTOCOL_VERSION } from '../../shared/protocol.ts';
import { DEFAULT_WARMUP } from '../../shared/policy/warmup.ts';
import { initialProviderState } from '../../edge/services/warmups.ts';
import { newId } from '../../shared/ids.ts';

export interface LeaseHubPortHarness {
  /** The port under test; every method is required (both runtimes have them). */
  port: Required<LeaseHubPort>;
  /** The store behind the hubs: warm-ups are created here. */
  store: Store;
  /** ws:// URL of the node endpoint, and a node token for `region`. */
  wsUrl: string;
  nodeToken: string;
  region: string;
  /** Makes the store unreachable for the node endpoint's token check; the returned function restores it. */
  storeDown(): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DialedNode {
  nodeId: string;
  close(): Promise<void>;
}

/** A node as the MTA node dials: the token on the upgrade, hello, and waits for welcome. */
export async function dialNode(h: Pick<LeaseHubPortHarness, 'wsUrl' | 'nodeToken' | 'region'>, nodeId: string): Promise<DialedNode> {
  const url = new URL(h.wsUrl);
  url.searchParams.set('region', h.region);
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${h.nodeToken}` } });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${nodeId}: no welcome within 15 s`)), 15_000);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${nodeId}: upgrade answered ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(encodeFrame({ type: 'hello', v: PROTOCOL_VERSION, nodeId, region: h.region, version: '0.1.0', ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'contract.test' }], capacity: 1 }));
    });
    ws.on('message', (data) => {
      const parsed = parseHubFrame(data.toString());
      if (!parsed.ok) return;
      if (parsed.frame.type === 'welcome') {
        clearTimeout(timer);
        resolve();
      } else if (parsed.frame.type === 'error' && parsed.frame.fatal) {
        clearTimeout(timer);
        reject(new Error(`${nodeId}: ${parsed.frame.message}`));
      }
    });
  });
  return {
    nodeId,
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close(1000, 'contract done');
      }),
  };
}

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const isRows = (rows: unknown) => Array.isArray(rows) && rows.every((r) => r !== null && typeof r === 'object');

export function leaseHubPortContract(name: string, setup: () => Promise<LeaseHubPortHarness>) {
  describe(`LeaseHubPort contract: ${name}`, { timeout: 120_000 }, () => {
    let h: LeaseHubPortHarness;
    before(async () => {
      h = await setup();
    });
    after(async () => {
      await h?.close();
    });

    test('notifyWork does not throw with no node connected, for a region or for all', async () => {
      assert.doesNotThrow(() => h.port.notifyWork(null));
      assert.doesNotThrow(() => h.port.notifyWork(h.region));
      assert.ok(Array.isArray(await h.port.nodes()));
    });

    test('nodes() lists a connected node with its region and IPs, and forgets it when it leaves', async () => {
      const nodeId = `contract-${Math.random().toString(36).slice(2, 8)}`;
      const node = await dialNode(h, nodeId);
      try {
        const listed = await eventually(async () => (await h.port.nodes()).find((n) => n.nodeId === nodeId), `${nodeId} in nodes()`);
        assert.equal(listed.region, h.region);
        assert.deepEqual(listed.ips.map((ip) => ip.address), ['127.0.0.1']);
        assert.equal(typeof listed.connectedAt, 'number');
        assert.doesNotThrow(() => h.port.notifyWork(h.region));
      } finally {
        await node.close();
      }
      await eventually(async () => !(await h.port.nodes()).some((n) => n.nodeId === nodeId), `${nodeId} gone from nodes()`);
    });

    test('reputation() has breakers, rates and suspended_ips, each a list of rows', async () => {
      const state = await h.port.reputation();
      assert.deepEqual(Object.keys(state).sort(), ['breakers', 'rates', 'suspended_ips']);
      for (const rows of Object.values(state)) assert.ok(isRows(rows), JSON.stringify(rows));
    });

    test('warmupsChanged() loads a warm-up started in the store; warmups() lists its live counts', async () => {
      const now = Date.now();
      const id = newId('wup', now);
      const pool = `contract-${Math.random().toString(36).slice(2, 8)}`;
      await h.store.ensurePool(pool, null, now);
      const created = await h.store.createWarmup({
        id,
        scope: 'pool',
        key: pool,
        pool,
        lane: null,
        overrides: {},
        plan: DEFAULT_WARMUP as unknown as Record<string, unknown>,
        status: 'active',
        startedAt: now,
        dayStart: now,
        providers: Object.fromEntries(Object.keys(DEFAULT_WARMUP.day1).map((p) => [p, initialProviderState(now)])),
        endedAt: null,
        createdBy: 'contract',
        updatedAt: now,
      });
      assert.equal(created, 'created');
      try {
        await h.port.warmupsChanged();
        const live = (await h.port.warmups()).find((w) => w.id === id);
        assert.ok(live, 'the new warm-up is live after warmupsChanged()');
        assert.equal(live.status, 'active');
        assert.deepEqual(Object.keys(live.providers).sort(), Object.keys(DEFAULT_WARMUP.day1).sort());
        for (const p of Object.values(live.providers)) assert.equal(p.sentToday, 0);
      } finally {
        await h.store.endWarmup(id, 'stopped', Date.now());
        await h.port.warmupsChanged();
      }
      assert.ok(!(await h.port.warmups()).some((w) => w.id === id), 'a stopped warm-up is dropped on warmupsChanged()');
    });

    test('feedback() takes a complaint and a bounce', async () => {
      const job = { id: newId('job'), tenantId: 'default', provider: 'gmail', domain: 'gmail.com', pool: 'default', senderDomain: 'contract.test', lane: 'transactional' };
      await h.port.feedback({ kind: 'complaint', job, at: Date.now() });
      await h.port.feedback({ kind: 'bounce', job, at: Date.now() });
      const state = await h.port.reputation();
      for (const rows of Object.values(state)) assert.ok(isRows(rows));
    });

    test('the node endpoint answers 503 with Retry-After while the store is down, not 401', async () => {
      const restore = await h.storeDown();
      try {
        const url = new URL(h.wsUrl);
        url.searchParams.set('region', h.region);
        const answer = await new Promise<{ status: number; retryAfter?: string }>((resolve, reject) => {
          const ws = new WebSocket(url, { headers: { authorization: `Bearer ${h.nodeToken}` } });
          ws.once('open', () => (ws.terminate(), reject(new Error('the upgrade was accepted with the store down'))));
          ws.once('unexpected-response', (_req, res) => {
            resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
            res.resume();
            ws.terminate();
          });
          ws.once('error', reject);
        });
        assert.equal(answer.status, 503);
        assert.ok(Number(answer.retryAfter) > 0, `Retry-After: ${answer.retryAfter}`);
      } finally {
        await restore();
      }
      const node = await dialNode(h, `contract-back-${Math.random().toString(36).slice(2, 8)}`);
      await node.close();
    });
  });
}
