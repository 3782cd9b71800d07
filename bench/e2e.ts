/** Bench phases measuring delivery: raw SMTP, end-to-end into the sink, and the cluster variant. */
import { freePort, sleep } from './lib/proc.ts';
import { smtpSource, startSmtpSink } from './lib/smtp.ts';
import { measureE2E, registerDomain, sendOne } from './lib/measure.ts';
import { benchMessage } from './lib/message.ts';
import { startSink as startCheckSink } from '../test/mta-node/helpers.ts';
import { phaseCluster } from './cluster.ts';
import { BENCH_SHAPING, P, R, dir, log, startPlatform, type Platform } from './setup.ts';
import { ingestOn } from './ingest.ts';

export async function phaseSmtp() {
  log('raw SMTP: smtp-source → smtp-sink, 20 sessions, 2 KB');
  const sink = await startSmtpSink(await freePort(), 120, dir);
  try {
    const common = { sessions: P.smtpSessions, bytes: P.smtpBytes, maxSeconds: 60 };
    // A short warm-up so neither figure pays for first-use costs.
    await smtpSource(sink.port, { ...common, messages: 1_000, reuse: true });
    const reuse = await smtpSource(sink.port, { ...common, messages: P.smtpReuseMessages, reuse: true });
    const newConn = await smtpSource(sink.port, { ...common, messages: P.smtpNewConnMessages, reuse: false });
    R.smtp = { reuse, newConn, tool: 'postfix smtp-source/smtp-sink' };
  } finally {
    await sink.stop();
  }
}

export async function phaseE2E(label: string, algorithm: 'rsa-sha256' | 'ed25519-sha256') {
  log(`e2e ${label}: platform (edge + 1 MtaNode) → smtp-sink`);
  const sink = await startSmtpSink(await freePort(), 300, dir);
  const check = await startCheckSink();
  const domain = algorithm === 'rsa-sha256' ? 'rsa.bench.test' : 'ed.bench.test';
  let p: Platform | null = null;
  try {
    p = await startPlatform(`e2e-${label}`, {
      routes: { '*': { host: '127.0.0.1', port: sink.port }, 'check.bench.test': { host: '127.0.0.1', port: check.port } },
      ...P.node,
    });
    await registerDomain(p.target, domain, algorithm);
    // Proof the signing is on: one message to a check sink, its DKIM-Signature read back.
    await sendOne(p.target, { ...benchMessage(0, domain, 'check.bench.test', 'check'), to: 'check@check.bench.test' });
    const until = Date.now() + 15_000;
    while (check.mails.length === 0 && Date.now() < until) await sleep(20);
    const sig = /^DKIM-Signature:([\s\S]*?)\r\n(?=\S)/im.exec(check.mails[0]?.raw ?? '')?.[1] ?? '';
    const a = /\ba=([\w-]+)/.exec(sig)?.[1];
    const d = /\bd=([\w.-]+)/.exec(sig)?.[1];
    const dkimChecked = check.mails.length === 0 ? 'check message not delivered' : a === algorithm && d === domain ? `ok (a=${a}; d=${d})` : `MISMATCH (a=${a}; d=${d})`;
    const r = await measureE2E(p.target, sink, {
      messages: P.e2eMessages,
      concurrency: P.e2ePostConcurrency,
      batchSize: P.batchSize,
      fromDomain: domain,
      toDomain: 'dest.bench.test',
      runId: `e2e-${label}`,
      timeoutMs: P.e2eTimeoutMs,
    });
    const stats = await p.stats().catch(() => null);
    R.e2e[label] = { ...r, dkim: algorithm, dkimChecked, node: stats?.node, jobs: stats?.jobs, hub: stats?.hub };
  } catch (err) {
    R.e2e[label] = { error: (err as Error).message };
  } finally {
    await p?.stop();
    await check.close();
    await sink.stop();
  }
}

/** The cluster variant: bench/cluster.ts, with the embedded runs' knobs and ingest measurement. */
export async function runClusterPhase() {
  if (process.env.BENCH_CLUSTER === '0') return;
  R.cluster = {};
  await phaseCluster(
    {
      shaping: BENCH_SHAPING,
      nodeCapacity: P.node.capacity,
      e2e: { messages: P.e2eMessages, concurrency: P.e2ePostConcurrency, batchSize: P.batchSize, timeoutMs: P.clusterE2eTimeoutMs },
      ingest: ingestOn,
      log,
    },
    R.cluster,
  );
}
