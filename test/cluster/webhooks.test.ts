/**
 * Webhooks on Workers: the sender runs in WebhookSenderObject on alarms (workerd + sqld under the
 * cluster). Every event of 200 messages reaches a receiver that fails 30% of requests, verified
 * with `standardwebhooks`, in per-message order with gap-free sequences — and the workerd that
 * hosts the Durable Objects is killed mid-stream (SIGKILL) and started again without losing one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../../dev/cluster/index.ts';
import { MESSAGE_EVENT_TYPES } from '../../shared/events/message.ts';
import { waitFor } from '../helpers/platform.ts';
import { checkStream, Receiver } from '../helpers/webhook-receiver.ts';

let cluster: Cluster;
const flaky = new Receiver();

describe('cluster: webhooks from the Durable Object sender', { timeout: 300_000 }, () => {
  before(async () => {
    cluster = await startCluster({
      vars: {
        POSTLANE_WEBHOOK_ALLOW: '127.0.0.1/32',
        POSTLANE_WEBHOOK_RETRY_INITIAL_MS: '20',
        POSTLANE_WEBHOOK_RETRY_MAX_MS: '400',
        POSTLANE_WEBHOOK_DISABLE_AFTER: '1000000',
        POSTLANE_TENANT_RATE: '100000',
        POSTLANE_TENANT_BURST: '100000',
      },
    });
    const dom = await cluster.api(cluster.edges[0], 'POST', '/v1/domains', { domain: 'hooks.test' });
    assert.equal(dom.status, 201, JSON.stringify(dom.body));
    await flaky.listen();
  });

  after(async () => {
    await cluster?.stop();
    await flaky.close();
  });

  test('a private URL is refused on the Worker too, with 400 naming url', async () => {
    const res = await cluster.api(cluster.edges[0], 'POST', '/v1/webhooks', { url: 'http://169.254.169.254/latest', event_types: ['delivered'] });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.field, 'url');
  });

  test('200 messages: every event arrives verified, in order, gap-free, through a 30%-failing receiver and a killed object host', async () => {
    flaky.fail = (n) => n % 10 < 3;
    const hook = await cluster.api(cluster.edges[0], 'POST', '/v1/webhooks', { url: flaky.url, event_types: MESSAGE_EVENT_TYPES });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    flaky.secrets = [hook.body.secret];

    const ids: string[] = [];
    for (let b = 0; b < 2; b++) {
      const messages = Array.from({ length: 100 }, (_, i) => ({ from: 'app@hooks.test', to: `r${b}-${i}@example.com`, subject: `wh ${b}-${i}`, text: 'hi' }));
      const res = await cluster.api(cluster.edges[b], 'POST', '/v1/messages/batch', { messages });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      ids.push(...res.body.data.map((m: { id: string }) => m.id));
      // Mid-stream: the process hosting every Durable Object (lease hubs, counters, the sender) dies.
      if (b === 0) {
        await waitFor(async () => flaky.unique().length >= 50 || null, 60_000, 'the stream under way');
        await cluster.objects.kill();
        await cluster.objects.start();
      }
    }
    await waitFor(async () => (cluster.sink.mails.filter((m) => m.raw.includes('Subject: wh ')).length >= 200 ? true : null), 120_000, 'all 200 delivered');
    let expected = 0;
    const views = async () => {
      expected = 0;
      for (const id of ids) {
        const v = await cluster.api(cluster.edges[0], 'GET', `/v1/messages/${id}`);
        if (v.body.status !== 'delivered') return null;
        expected += v.body.events.length;
      }
      return true;
    };
    await waitFor(views, 60_000, 'every message delivered with its trace');
    await waitFor(async () => (flaky.unique().length >= expected ? true : null), 120_000, `${expected} webhook deliveries`);
    assert.ok(flaky.requests > flaky.unique().length, 'the failing receiver made the sender retry');
    checkStream(flaky, expected);
  });
});
