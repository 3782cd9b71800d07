/** The bench's printed table and its one-line JSON summary, from the results of the run. */
import type { E2EResult, LoadResult } from './lib/measure.ts';
import { CPU_PROF, P, QUICK, R, TARGETS, profDir } from './setup.ts';
import { loadJson, loadSummary } from './lib/load.ts';

/** Issue 17's targets against Postfix relaying the same load: ≥ 2× in each e2e, RSA ≥ half the signing ceiling. */
const VS_POSTFIX = 2;
const OF_SIGNING_CEILING = 0.5;

const n0 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));
const n1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : '—');
const yesNo = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'MET' : 'NOT MET');

export function printTable() {
  const rows: string[][] = [];
  const row = (...cells: (string | number)[]) => rows.push(cells.map(String));
  const b = R.baselines;
  const h = R.hello;
  const i = R.ingest;
  const s = R.smtp;
  row('measure', 'figure', 'baseline (same run)', 'ratio', 'target', '');
  if (i) {
    const bad = (r: LoadResult) => Object.entries(r.statuses).filter(([k]) => !k.startsWith('2')).map(([k, v]) => `${k}×${v}`).join(' ');
    row('ingest single c=32, msg/s', n0(i.single.messagesPerSec), `Hono hello ${n0(h?.single.requestsPerSec)} req/s`, ratio(i.single.messagesPerSec, h?.single.requestsPerSec), `≥ ${n0(TARGETS.ingestSingle)}`, yesNo(i.single.messagesPerSec >= TARGETS.ingestSingle));
    row('  latency p50 / p99 / max, ms', `${n1(i.single.p50)} / ${n1(i.single.p99)} / ${n1(i.single.max)}`, `hello p50 ${n1(h?.single.p50)} p99 ${n1(h?.single.p99)}`, '', `p99 < ${TARGETS.ingestP99Ms}`, yesNo(i.single.p99 < TARGETS.ingestP99Ms));
    row('  vs libSQL autocommit inserts/s', '', n0(b?.autocommitPerSec), ratio(i.single.messagesPerSec, b?.autocommitPerSec), '', '');
    if (bad(i.single)) row('  non-2xx', bad(i.single), '', '', '', '');
    row(`ingest batch ${P.batchSize}/req c=32, msg/s`, n0(i.batch.messagesPerSec), `Hono hello ${n0(h?.batch.messagesPerSec)} msg/s`, ratio(i.batch.messagesPerSec, h?.batch.messagesPerSec), `≥ ${n0(TARGETS.ingestBatch)}`, yesNo(i.batch.messagesPerSec >= TARGETS.ingestBatch));
    row('  request p50 / p99, ms', `${n1(i.batch.p50)} / ${n1(i.batch.p99)}`, `hello p50 ${n1(h?.batch.p50)} p99 ${n1(h?.batch.p99)}`, '', '', '');
    row('  vs libSQL 1,000-row tx inserts/s', '', n0(b?.txPerSec), ratio(i.batch.messagesPerSec, b?.txPerSec), '', '');
    if (bad(i.batch)) row('  non-2xx', bad(i.batch), '', '', '', '');
    row('  dedup: replays answered from key', `${i.single.replays + i.batch.replays}/${i.single.replayChecked + i.batch.replayChecked}`, '', '', 'all', yesNo(i.single.replays + i.batch.replays === i.single.replayChecked + i.batch.replayChecked));
  }
  if (s) {
    row('raw SMTP reuse (-d), msg/s', n0(s.reuse.perSec), 'smtp-source → smtp-sink', '', '', '');
    row('raw SMTP new conn/msg, msg/s', n0(s.newConn.perSec), 'smtp-source → smtp-sink', '', '', '');
  }
  for (const [label, e] of Object.entries(R.e2e)) {
    if ('error' in e) {
      row(`e2e ${label}`, 'FAILED', e.error.slice(0, 60), '', '', '');
      continue;
    }
    const target = label === 'rsa' ? `≥ ${n0(TARGETS.e2eRsa)}` : '';
    row(`e2e ${label === 'rsa' ? 'RSA-2048 DKIM' : 'Ed25519 DKIM ("off")'}, delivered/s`, n0(e.perSec), `smtp raw reuse ${n0(s?.reuse.perSec)}`, ratio(e.perSec, s?.reuse.perSec), target, label === 'rsa' ? yesNo(e.complete && e.perSec >= TARGETS.e2eRsa) : '');
    row('  vs raw new conn/msg', '', n0(s?.newConn.perSec), ratio(e.perSec, s?.newConn.perSec), '', '');
    if (label === 'rsa') row('  vs RSA-2048 signs/s, 1 thread', '', n0(b?.rsaPerSec), ratio(e.perSec, b?.rsaPerSec), '', '');
    if (label === 'rsa' && b) {
      const ceiling = b.rsaPerSec * R.machine.cores;
      row(`  vs signing ceiling (${R.machine.cores} cores)`, '', n0(ceiling), ratio(e.perSec, ceiling), `≥ ${OF_SIGNING_CEILING}`, yesNo(e.perSec / ceiling >= OF_SIGNING_CEILING));
    }
    if (e.node) row('  node: delivered / deferred / bounced', `${e.node.delivered} / ${e.node.deferred} / ${e.node.bounced}`, `jobs ${JSON.stringify(e.jobs)}; hub view ${JSON.stringify(e.hub)}`, '', '', '');
    if (e.node) row('  node: in flight / leased total', `${e.node.inFlight} / ${e.node.leased}`, '', '', '', '');
    row('  delivered / sent, total s, ingest s', `${e.delivered}/${e.messages}, ${(e.ms / 1000).toFixed(1)} s, ${(e.ingestMs / 1000).toFixed(1)} s`, `DKIM check ${e.dkimChecked}`, '', '', e.complete ? '' : 'INCOMPLETE');
  }
  const pf = R.postfix;
  if (pf && 'error' in pf) row('Postfix relay baseline', 'FAILED', pf.error.slice(0, 100), '', '', '');
  if (pf && !('error' in pf)) {
    const base = `Postfix relay ${n0(pf.perSec)}/s`;
    row("Postfix relay (fsync'd queue), relayed/s", n0(pf.perSec), `smtp-source ${pf.sessions} sessions → postfix → smtp-sink, ${pf.connections} conns`, '', '', pf.complete ? '' : 'INCOMPLETE');
    row('  relayed / sent, total s, hand-in s', `${pf.delivered}/${pf.messages}, ${(pf.ms / 1000).toFixed(1)} s, ${(pf.ingestMs / 1000).toFixed(1)} s`, 'same messages, size and sink as e2e', '', '', '');
    for (const [label, name] of [['rsa', 'e2e RSA-2048 ÷ Postfix'], ['ed25519', 'e2e Ed25519 ÷ Postfix']] as const) {
      const e = R.e2e[label];
      if (!e || 'error' in e) continue;
      const q = e.perSec / pf.perSec;
      row(name, n0(e.perSec), base, ratio(e.perSec, pf.perSec), `≥ ${VS_POSTFIX}`, yesNo(e.complete && pf.complete && q >= VS_POSTFIX));
    }
    row('e2e without DKIM ÷ Postfix', 'not run', 'Postlane signs every message it sends (no unsigned mode)', '', `≥ ${VS_POSTFIX}`, '');
  }
  for (const [label, x] of Object.entries(R.external ?? {})) {
    if (x.single) row(`${label}: ingest single c=32, msg/s`, n0(x.single.messagesPerSec), `p50 ${n1(x.single.p50)} p99 ${n1(x.single.p99)} ms`, `${ratio(x.single.messagesPerSec, i?.single.messagesPerSec)} of embedded`, '', '');
    for (const [k, r] of [['single', x.single], ['batch', x.batch]] as const) {
      const bad = r ? Object.entries(r.statuses).filter(([c]) => !c.startsWith('2')) : [];
      if (r && bad.length) row(`  ${k} non-2xx`, bad.map(([c, v]) => `${c}×${v}`).join(' '), (r.errors[0] ?? '').slice(0, 100), '', '', '');
    }
    if (x.batch) row(`${label}: ingest batch, msg/s`, n0(x.batch.messagesPerSec), '', `${ratio(x.batch.messagesPerSec, i?.batch.messagesPerSec)} of embedded`, '', '');
    if (x.e2e) row(`${label}: e2e RSA, delivered/s`, n0(x.e2e.perSec), `${x.e2e.delivered}/${x.e2e.messages}`, `${ratio(x.e2e.perSec, s?.reuse.perSec)} of raw`, '', x.e2e.complete ? '' : 'INCOMPLETE');
    if (x.error) row(`${label}`, 'FAILED', x.error.slice(0, 80), '', '', '');
  }
  const cl = R.cluster;
  if (cl) {
    // The same measures through the cluster, each against the embedded run of this bench.
    const rsa = R.e2e.rsa && !('error' in R.e2e.rsa) ? R.e2e.rsa : undefined;
    const nonOk = (r: LoadResult) => Object.entries(r.statuses).filter(([c]) => !c.startsWith('2'));
    if (cl.single) {
      row('cluster ingest single c=32, msg/s', n0(cl.single.messagesPerSec), `embedded ${n0(i?.single.messagesPerSec)}`, ratio(cl.single.messagesPerSec, i?.single.messagesPerSec), '', '');
      row('  latency p50 / p99 / max, ms', `${n1(cl.single.p50)} / ${n1(cl.single.p99)} / ${n1(cl.single.max)}`, `embedded p50 ${n1(i?.single.p50)} p99 ${n1(i?.single.p99)}`, '', '', '');
    }
    if (cl.batch) {
      row(`cluster ingest batch ${P.batchSize}/req c=32, msg/s`, n0(cl.batch.messagesPerSec), `embedded ${n0(i?.batch.messagesPerSec)}`, ratio(cl.batch.messagesPerSec, i?.batch.messagesPerSec), '', '');
      row('  request p50 / p99, ms', `${n1(cl.batch.p50)} / ${n1(cl.batch.p99)}`, `embedded p50 ${n1(i?.batch.p50)} p99 ${n1(i?.batch.p99)}`, '', '', '');
    }
    for (const [k, r] of [['single', cl.single], ['batch', cl.batch]] as const) {
      if (r && nonOk(r).length) row(`  ${k} non-2xx`, nonOk(r).map(([c, v]) => `${c}×${v}`).join(' '), (r.errors[0] ?? '').slice(0, 100), '', '', '');
    }
    if (cl.single && cl.batch) {
      row('  dedup: replays answered from key', `${cl.single.replays + cl.batch.replays}/${cl.single.replayChecked + cl.batch.replayChecked}`, '', '', 'all', yesNo(cl.single.replays + cl.batch.replays === cl.single.replayChecked + cl.batch.replayChecked));
    }
    if (cl.e2e) {
      row('cluster e2e RSA-2048, delivered/s', n0(cl.e2e.perSec), `embedded ${n0(rsa?.perSec)}`, ratio(cl.e2e.perSec, rsa?.perSec), '', cl.e2e.complete ? '' : 'INCOMPLETE');
      row('  delivered / sent, total s, ingest s', `${cl.e2e.delivered}/${cl.e2e.messages}, ${(cl.e2e.ms / 1000).toFixed(1)} s, ${(cl.e2e.ingestMs / 1000).toFixed(1)} s`, `by node ${JSON.stringify(cl.e2eBy)}; duplicates ${cl.e2eDuplicates}`, '', '', '');
      if (nonOk(cl.e2e as unknown as LoadResult).length) row('  e2e non-2xx', nonOk(cl.e2e as unknown as LoadResult).map(([c, v]) => `${c}×${v}`).join(' '), (cl.e2e.errors[0] ?? '').slice(0, 100), '', '', '');
    }
    if (cl.error) row('cluster', 'FAILED', cl.error.slice(0, 100), '', '', '');
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 || c === 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  console.log('');
  console.log(`Postlane bench — ${R.machine.cores} cores (${R.machine.cpu}), Node ${R.machine.node}${QUICK ? ', QUICK' : ''}`);
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
  console.log('');
  if (b) console.log(`baselines: libSQL WAL/NORMAL ${n0(b.autocommitPerSec)} autocommit inserts/s, ${n0(b.txPerSec)}/s in 1,000-row transactions; RSA-2048 ${n0(b.rsaPerSec)} signs/s, Ed25519 ${n0(b.edPerSec)} signs/s (one thread)`);
  if (i) console.log(`ingest: ${n0(i.stored)} messages stored, avg MIME size ${n0(i.avgMessageBytes)} bytes; each request with its own Idempotency-Key; ${P.warmupMs} ms warm-up + ${P.ingestMs} ms measured`);
  console.log(`e2e: ${P.e2eMessages} messages posted in batches of ${P.batchSize} at c=${P.e2ePostConcurrency}, timed from the first POST to the sink's last message; node capacity ${P.node.capacity}, ${P.node.limits.maxConnections} connections, ${P.node.limits.maxMessagesPerConnection} msgs/connection, journal fsync ${P.node.journalFsync}, DKIM workers ${P.node.dkimWorkers}`);
  if (R.cluster) console.log(`cluster: 2 workerd edges (+1 for the Durable Objects) over sqld primary + replica, nodes bench-eu and bench-us; e2e first on an empty queue (${P.e2eMessages} messages, sink = smtp-server in the bench process), then ingest with the nodes stopped; shaping policy POSTLANE_SHAPING_POLICY = the embedded shaping file`);
  console.log('"DKIM off": every sending domain has a key (POST /v1/domains), so the cheap case is Ed25519 signing, not unsigned mail.');
  if (pf && !('error' in pf)) console.log(`postfix: a private instance (own config, queue and data directories in a temp dir, stopped after), default fsync'd queue (cleanup(8) syncs each queue file before 250), relayhost = the e2e sink, smtp_destination_concurrency_limit ${pf.connections}, ${P.node.limits.maxMessagesPerConnection} msgs/connection, no DKIM; run minutes after the e2e phases`);
  if (pf) console.log('"without DKIM": a registered sending domain always has a key and the node signs with it, so there is no unsigned Postlane run to set beside Postfix yet.');
  for (const n of R.notes) console.log(`note: ${n}`);
  console.log(loadSummary());
  if (CPU_PROF) console.log(`CPU profiles of the platform children: ${profDir}`);
}

export function summaryJson() {
  const i = R.ingest;
  const e = (k: string) => (R.e2e[k] && !('error' in R.e2e[k]) ? (R.e2e[k] as E2EResult) : undefined);
  return {
    bench: 'postlane',
    quick: QUICK,
    cores: R.machine.cores,
    ingest_single_msgs: i && Math.round(i.single.messagesPerSec),
    ingest_single_p50_ms: i && +i.single.p50.toFixed(2),
    ingest_single_p99_ms: i && +i.single.p99.toFixed(2),
    ingest_batch_msgs: i && Math.round(i.batch.messagesPerSec),
    http_ceiling_rps: R.hello && Math.round(R.hello.single.requestsPerSec),
    libsql_autocommit_ips: R.baselines && Math.round(R.baselines.autocommitPerSec),
    libsql_tx_ips: R.baselines && Math.round(R.baselines.txPerSec),
    rsa_signs_per_sec: R.baselines && Math.round(R.baselines.rsaPerSec),
    smtp_raw_reuse_msgs: R.smtp && Math.round(R.smtp.reuse.perSec),
    smtp_raw_newconn_msgs: R.smtp && Math.round(R.smtp.newConn.perSec),
    e2e_rsa_msgs: e('rsa') && Math.round(e('rsa')!.perSec),
    e2e_ed25519_msgs: e('ed25519') && Math.round(e('ed25519')!.perSec),
    e2e_rsa_ratio_raw_reuse: e('rsa') && R.smtp && +(e('rsa')!.perSec / R.smtp.reuse.perSec).toFixed(3),
    postfix_relay_msgs: R.postfix && !('error' in R.postfix) ? Math.round(R.postfix.perSec) : undefined,
    e2e_rsa_ratio_postfix: e('rsa') && R.postfix && !('error' in R.postfix) ? +(e('rsa')!.perSec / R.postfix.perSec).toFixed(3) : undefined,
    e2e_ed25519_ratio_postfix: e('ed25519') && R.postfix && !('error' in R.postfix) ? +(e('ed25519')!.perSec / R.postfix.perSec).toFixed(3) : undefined,
    load: loadJson(),
    cluster: R.cluster
      ? {
          ingest_single_msgs: R.cluster.single && Math.round(R.cluster.single.messagesPerSec),
          ingest_single_p99_ms: R.cluster.single && +R.cluster.single.p99.toFixed(2),
          ingest_batch_msgs: R.cluster.batch && Math.round(R.cluster.batch.messagesPerSec),
          e2e_msgs: R.cluster.e2e && Math.round(R.cluster.e2e.perSec),
          e2e_complete: R.cluster.e2e?.complete,
          ratio_ingest_single: R.cluster.single && i ? +(R.cluster.single.messagesPerSec / i.single.messagesPerSec).toFixed(3) : undefined,
          ratio_ingest_batch: R.cluster.batch && i ? +(R.cluster.batch.messagesPerSec / i.batch.messagesPerSec).toFixed(3) : undefined,
          ratio_e2e_rsa: R.cluster.e2e && e('rsa') ? +(R.cluster.e2e.perSec / e('rsa')!.perSec).toFixed(3) : undefined,
          error: R.cluster.error,
        }
      : undefined,
    targets: { ingest_single_msgs: TARGETS.ingestSingle, ingest_single_p99_ms: TARGETS.ingestP99Ms, ingest_batch_msgs: TARGETS.ingestBatch, e2e_rsa_msgs: TARGETS.e2eRsa },
    met: {
      ingest_single: i ? i.single.messagesPerSec >= TARGETS.ingestSingle && i.single.p99 < TARGETS.ingestP99Ms : false,
      ingest_batch: i ? i.batch.messagesPerSec >= TARGETS.ingestBatch : false,
      e2e_rsa: e('rsa') ? e('rsa')!.complete && e('rsa')!.perSec >= TARGETS.e2eRsa : false,
    },
  };
}
