/**
 * Bench child: the raw ceilings of the parts the platform is built on, measured on this machine
 * in this run, each alone in its own process:
 *  - libSQL file in WAL with synchronous=NORMAL (the edge's settings): autocommit inserts/s of a
 *    ~2 KB row, and inserts/s inside transactions of 1,000 rows;
 *  - DKIM: RSA-2048 and Ed25519 signatures/s on one thread (node:crypto, SHA-256 of a 2 KB body).
 * Configured by BENCH_BASELINES (JSON: {dir, ms}).
 */
import { generateKeyPairSync, sign, createHash } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { fail, send } from './ipc.ts';

const cfg = JSON.parse(process.env.BENCH_BASELINES ?? 'null') as { dir: string; ms: number } | null;
if (!cfg) fail(new Error('BENCH_BASELINES is not set'));

const MAX_ROWS = 2_000_000;
const payload = 'x'.repeat(2048);

try {
  const client = createClient({ url: `file:${join(cfg.dir, 'baseline.db')}` });
  await client.execute('PRAGMA journal_mode = WAL');
  await client.execute('PRAGMA synchronous = NORMAL');
  await client.execute('CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_at INTEGER NOT NULL, raw TEXT NOT NULL)');

  let n = 0;
  let end = performance.now() + cfg.ms;
  let t0 = performance.now();
  while (performance.now() < end && n < MAX_ROWS) {
    await client.execute({ sql: 'INSERT INTO t (id, tenant, created_at, raw) VALUES (?, ?, ?, ?)', args: [`a${n}`, 'default', Date.now(), payload] });
    n++;
  }
  const autocommitPerSec = (n / (performance.now() - t0)) * 1000;

  let m = 0;
  end = performance.now() + cfg.ms;
  t0 = performance.now();
  while (performance.now() < end && m < MAX_ROWS) {
    const tx = await client.transaction('write');
    for (let i = 0; i < 1000; i++, m++) {
      await tx.execute({ sql: 'INSERT INTO t (id, tenant, created_at, raw) VALUES (?, ?, ?, ?)', args: [`b${m}`, 'default', Date.now(), payload] });
    }
    await tx.commit();
  }
  const txPerSec = (m / (performance.now() - t0)) * 1000;
  client.close();

  const body = Buffer.from(payload);
  const rate = (key: Parameters<typeof sign>[2], algo: string | null) => {
    let k = 0;
    const stop = performance.now() + Math.min(cfg!.ms, 2000);
    const s = performance.now();
    while (performance.now() < stop && k < 1_000_000) {
      const h = createHash('sha256').update(body).digest();
      sign(algo, h, key);
      k++;
    }
    return (k / (performance.now() - s)) * 1000;
  };
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const rsaPerSec = rate(rsa, 'sha256');
  const edPerSec = rate(ed, null);

  send({ type: 'result', autocommitPerSec, txPerSec, rsaPerSec, edPerSec });
  setTimeout(() => process.exit(0), 50);
} catch (err) {
  fail(err);
}
