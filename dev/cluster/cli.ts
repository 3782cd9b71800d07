/**
 * `npm run cluster`: the whole cluster on loopback (see dev/cluster/index.ts and
 * docs/architecture.md): sqld primary + replica, the Durable Objects and two edge instances in
 * workerd, a TCP front for the nodes, an MTA node in each of two regions, an SMTP sink.
 * Prints the URLs and the admin key; Ctrl-C stops all of it.
 *
 *   npm run cluster                 # fixed ports: edges 8787/8788, front 8789, sqld 8080, sink 2525
 *   npm run cluster -- --verbose    # every process's log lines, prefixed with its name
 *   CLUSTER_PORTS=0 npm run cluster # free ports instead
 *
 * Stopping: SIGINT (Ctrl-C) or SIGTERM, also when only this process gets it (`kill <pid>`, a
 * supervisor), and also during start-up, stops every child: the helper's orderly stop first,
 * then whatever is still running below this process (workerd is Miniflare's child, not ours)
 * is SIGKILLed. A second signal skips the orderly part. A child that dies during start fails
 * the start, which stops the rest. The ready line `cluster ready {json}` lists the child pids.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { startCluster, type Cluster } from './index.ts';

process.env.WRANGLER_SEND_METRICS = 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
const verbose = process.argv.includes('--verbose');
const fixed = process.env.CLUSTER_PORTS !== '0';

/** Every process below `root`, from /proc (the cluster runs on Linux: sqld ships for linux-x64). */
function descendants(root = process.pid): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parentOf) if (parent === pid) (out.push(child), walk(child));
  };
  walk(root);
  return out;
}

function killLeftovers() {
  for (const pid of descendants()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

const abort = new AbortController();
let cluster: Cluster | null = null;
let stopping = false;
let ticker: ReturnType<typeof setInterval> | undefined;

async function shutdown(signal: string) {
  if (stopping) {
    // Second Ctrl-C: no more waiting.
    killLeftovers();
    process.exit(130);
  }
  stopping = true;
  clearInterval(ticker);
  console.log(`\n${signal}: stopping the cluster…`);
  abort.abort();
  // Bounded: a hung child must not keep the parent (and the others) alive.
  const orderly = cluster ? cluster.stop() : Promise.resolve();
  await Promise.race([orderly.catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
  killLeftovers();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));
// A crash of this script must not leave the children running either.
process.on('exit', killLeftovers);

console.log('starting the cluster (sqld, workerd x3, MTA nodes, SMTP sink)…');
try {
  cluster = await startCluster({
    verbose,
    signal: abort.signal,
    ports: fixed ? { edgeA: 8787, edgeB: 8788, balancer: 8789, sqld: 8080, sink: 2525 } : undefined,
  });
} catch (error) {
  if (stopping) await new Promise(() => {}); // shutdown() is finishing and exits
  console.error(`cluster failed to start: ${(error as Error).message}`);
  killLeftovers();
  process.exit(1);
}

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
console.log(`cluster ready ${JSON.stringify({ pid: process.pid, children: descendants(), edges: cluster.edges.map((e) => e.url) })}`);

let delivered = 0;
ticker = setInterval(() => {
  if (cluster && cluster.sink.mails.length !== delivered) {
    delivered = cluster.sink.mails.length;
    console.log(`sink: ${delivered} message(s) received`);
  }
}, 1000);
