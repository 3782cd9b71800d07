/**
 * `npm run cluster`: the whole cluster on loopback (see test/helpers/cluster.ts and
 * docs/architecture.md): sqld primary + replica, the Durable Objects and two edge instances in
 * workerd, a TCP front for the nodes, an MTA node in each of two regions, an SMTP sink.
 * Prints the URLs and the admin key; Ctrl-C stops all of it.
 *
 *   npm run cluster                 # fixed ports: edges 8787/8788, front 8789, sqld 8080, sink 2525
 *   npm run cluster -- --verbose    # every process's log lines, prefixed with its name
 *   CLUSTER_PORTS=0 npm run cluster # free ports instead
 */
import { startCluster } from '../test/helpers/cluster.ts';

process.env.WRANGLER_SEND_METRICS = 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
const verbose = process.argv.includes('--verbose');
const fixed = process.env.CLUSTER_PORTS !== '0';

console.log('starting the cluster (sqld, workerd x3, MTA nodes, SMTP sink)…');
const cluster = await startCluster({
  verbose,
  ports: fixed ? { edgeA: 8787, edgeB: 8788, balancer: 8789, sqld: 8080, sink: 2525 } : undefined,
}).catch((error) => {
  console.error(`cluster failed to start: ${(error as Error).message}`);
  process.exit(1);
});

const [a, b] = cluster.edges;
console.log(`
Postlane cluster is running.

  edge A (workerd)     ${a.url}
  edge B (workerd)     ${b.url}
  node front (TCP)     ${cluster.frontUrl.replace('http', 'ws')}/v1/nodes/connect?region=<eu|us>
  sqld primary         ${cluster.primary.url}
  sqld replica         ${cluster.replica.url}
  SMTP sink            127.0.0.1:${cluster.sink.port}  (every node routes every domain here)
  MTA nodes            ${[...cluster.nodes.keys()].join(', ')}
  data dir             ${cluster.dataDir}

  admin API key        ${cluster.apiKey}

Try:
  curl -s -X POST ${a.url}/v1/domains -H 'authorization: Bearer ${cluster.apiKey}' -H 'content-type: application/json' -d '{"domain":"sender.test"}'
  curl -s -X POST ${b.url}/v1/messages -H 'authorization: Bearer ${cluster.apiKey}' -H 'content-type: application/json' \\
       -d '{"from":"app@sender.test","to":"you@example.com","subject":"hi","text":"hello","constraints":{"region":"eu"}}'

Ctrl-C stops everything.
`);

let delivered = 0;
const ticker = setInterval(() => {
  if (cluster.sink.mails.length !== delivered) {
    delivered = cluster.sink.mails.length;
    console.log(`sink: ${delivered} message(s) received`);
  }
}, 1000);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    clearInterval(ticker);
    console.log('\nstopping the cluster…');
    void cluster.stop().finally(() => process.exit(0));
  });
}
