/**
 * Metrics that count: after three messages are delivered, the edge's /metrics shows the three
 * accepted sends and the MTA node's three delivered results (the embedded node registers on the
 * edge's registry), and a node's own status port serves the same series and its readiness.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, type Platform } from '../helpers/platform.ts';
import { startSink, type Sink } from '../mta-node/helpers.ts';
import type { MtaNode } from '../../mta-node/node.ts';

let sink: Sink;
let p: Platform;
let node: MtaNode;

before(async () => {
  sink = await startSink();
  p = await startPlatform({ sinkPort: sink.port });
  node = await p.startNode({ registry: p.edge.metricsRegistry, statusPort: 0 });
  await node.whenConnected();
  assert.equal((await p.api('POST', '/v1/domains', { domain: 'metrics.test' })).status, 201);
});
after(async () => {
  await p.stop();
  await sink.close();
});

/** The value of one series (name and exact label set) in Prometheus text, or null. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

test('after three deliveries the edge and the node report three of each', async () => {
  for (let i = 0; i < 3; i++) {
    const res = await p.api('POST', '/v1/messages', { from: 'a@metrics.test', to: `m${i}@example.net`, subject: `m${i}`, text: 'x' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
  for (let i = 0; i < 200 && sink.mails.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(sink.mails.length, 3);
  const scrape = async () => (await fetch(`${p.edge.url}/metrics`, { headers: { authorization: `Bearer ${p.edge.apiKey}` } })).text();
  let text = await scrape();
  for (let i = 0; i < 100 && sample(text, 'postlane_node_results_total{outcome="delivered"}') !== 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    text = await scrape();
  }
  assert.equal(sample(text, 'postlane_node_results_total{outcome="delivered"}'), 3);
  assert.equal(sample(text, 'postlane_api_requests_total{route="/v1/messages",status="202"}'), 3);
  assert.equal(sample(text, 'postlane_node_inflight'), 0);

  const own = await (await fetch(`${node.statusUrl}/metrics`)).text();
  assert.equal(sample(own, 'postlane_node_results_total{outcome="delivered"}'), 3);
  const health = await fetch(`${node.statusUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { ok: true, hub: 'connected' });
});
