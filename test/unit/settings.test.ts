/**
 * The one settings schema (edge/settings.ts): README.md's Settings table, wrangler.toml's [vars]
 * and docs/deploy.md name exactly its settings; bad values name their variable on both runtimes;
 * rates take every documented form; and `npm start` stops on a bad setting (the embedded node's
 * included) before the edge listens.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTING_NAMES, SettingsError, appConfig, metaOf, parseRateSetting, parseSettings, type Runtime } from '../../edge/settings.ts';
import { parseNodeEnv } from '../../edge/adapters/node-config.ts';
import { parseWorkerEnv } from '../../edge/durable/env.ts';
import { newMasterKey } from '../../edge/secrets.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const NAMES = new Set<string>(SETTING_NAMES);

/** Rows of README.md's Settings table: the names in the first cell and the runtime cell. */
function readmeRows(): Array<{ names: string[]; runtime: string }> {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## Settings'), readme.indexOf('\n## ', readme.indexOf('## Settings') + 1));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      return { names: [...cells[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]), runtime: cells[2] };
    });
}

/** Keys of wrangler.toml's [vars], commented-out examples included. */
function wranglerVars(): string[] {
  const toml = read('wrangler.toml');
  const start = toml.indexOf('[vars]');
  const rest = toml.slice(start + '[vars]'.length);
  const end = rest.search(/^\[/m);
  const body = end < 0 ? rest : rest.slice(0, end);
  return [...body.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)\s*=/gm)].map((m) => m[1]);
}

const runtimeCell = (runtimes: readonly Runtime[]) => (runtimes.length === 2 ? 'both' : runtimes[0] === 'node' ? 'Node' : 'Workers');

function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SettingsError, `a SettingsError, got ${error}`);
    return error.message;
  }
  assert.fail('expected a SettingsError');
}

const workerEnv = (extra: Record<string, unknown> = {}) => ({
  LEASE_HUB: {},
  RATE_COUNTER: {},
  WEBHOOK_SENDER: {},
  POSTLANE_DB_URL: 'http://127.0.0.1:8080',
  POSTLANE_MASTER_KEY: newMasterKey(),
  ...extra,
});

describe('settings: the docs and wrangler.toml match the schema', () => {
  test('every schema setting is a row of README.md\'s Settings table, with its runtimes', () => {
    const rows = readmeRows();
    assert.ok(rows.length > 10, 'the table was found');
    const documented = new Map<string, string>();
    for (const row of rows) for (const name of row.names) documented.set(name, row.runtime);
    for (const name of SETTING_NAMES) {
      assert.ok(documented.has(name), `${name} is missing from README.md's Settings table`);
      assert.equal(documented.get(name), runtimeCell(metaOf(name).runtimes), `${name}: README.md's runtime column`);
    }
  });

  test('no row of the table names a setting the schema lacks', () => {
    for (const row of readmeRows()) for (const name of row.names) assert.ok(NAMES.has(name), `README.md documents ${name}, which edge/settings.ts does not have`);
  });

  test('wrangler.toml [vars] are schema settings read by the Worker, and none is a secret', () => {
    const vars = wranglerVars();
    assert.ok(vars.includes('POSTLANE_DB_URL'), 'the [vars] section was found');
    for (const name of vars) {
      assert.ok(NAMES.has(name), `wrangler.toml [vars] sets ${name}, which edge/settings.ts does not have`);
      const meta = metaOf(name as never);
      assert.ok(meta.runtimes.includes('worker'), `${name} is not read on Workers`);
      assert.ok(!meta.secret, `${name} is a secret: wrangler secret put, not [vars]`);
    }
  });

  test('docs/deploy.md names only schema settings', () => {
    for (const [, name] of read('docs/deploy.md').matchAll(/`(POSTLANE_[A-Z0-9_]+)`/g)) assert.ok(NAMES.has(name), `docs/deploy.md names ${name}`);
    for (const [, name] of read('docs/deploy.md').matchAll(/wrangler secret put (\S+)/g)) assert.ok(NAMES.has(name) && metaOf(name as never).secret, `secret ${name}`);
  });
});

describe('settings: bad values stop start-up naming the variable', () => {
  const cases: Array<[string, Record<string, string>, RegExp?]> = [
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['POSTLANE_TENANT_RATE', { POSTLANE_TENANT_RATE: 'fast' }],
    ['POSTLANE_TENANT_RATE', { POSTLANE_TENANT_RATE: '0/s' }],
    ['POSTLANE_TENANT_BURST', { POSTLANE_TENANT_BURST: '1.5' }],
    ['POSTLANE_MASTER_KEY', { POSTLANE_MASTER_KEY: 'c2hvcnQ=' }, /32 bytes/],
    ['POSTLANE_EMBEDDED_NODE', { POSTLANE_EMBEDDED_NODE: 'yes' }],
    ['POSTLANE_LOG_LEVEL', { POSTLANE_LOG_LEVEL: 'loud' }],
    ['POSTLANE_REGION', { POSTLANE_REGION: 'EU West' }],
    ['POSTLANE_SPF_INCLUDE', { POSTLANE_SPF_INCLUDE: 'include:spf.example.net' }, /host name/],
    ['POSTLANE_DOMAIN_CHECK_MS', { POSTLANE_DOMAIN_CHECK_MS: '10' }],
    ['POSTLANE_NODE_IPS', { POSTLANE_NODE_IPS: '127.0.0.1' }],
    ['POSTLANE_SHAPING_POLICY', { POSTLANE_SHAPING_POLICY: '{not json' }, /not JSON/],
    ['POSTLANE_SHAPING_POLICY', { POSTLANE_SHAPING_POLICY: '{"nonsense":1}' }],
    ['POSTLANE_SHAPING_FILE', { POSTLANE_SHAPING_FILE: '/nonexistent/shaping.json' }, /cannot read/],
    ['POSTLANE_DB_URL', { POSTLANE_DB_URL: 'postgres://db' }],
  ];
  for (const [name, env, detail] of cases) {
    test(`Node: ${name}=${Object.values(env)[0]}`, () => {
      const message = problemOf(() => parseNodeEnv(env));
      assert.match(message, new RegExp(`^  ${name}: `, 'm'));
      if (detail) assert.match(message, detail);
    });
  }

  test('every problem is listed at once', () => {
    const message = problemOf(() => parseNodeEnv({ PORT: 'x', POSTLANE_LEASE_TTL_MS: '1', POSTLANE_DNS_SERVERS: 'bad host!' }));
    for (const name of ['PORT', 'POSTLANE_LEASE_TTL_MS', 'POSTLANE_DNS_SERVERS']) assert.match(message, new RegExp(`^  ${name}: `, 'm'));
  });

  test('Workers: the database URL and master key are required, and named', () => {
    const message = problemOf(() => parseWorkerEnv({ LEASE_HUB: {}, RATE_COUNTER: {}, WEBHOOK_SENDER: {} }));
    assert.match(message, /POSTLANE_DB_URL: required/);
    assert.match(message, /POSTLANE_MASTER_KEY: required \(wrangler secret put POSTLANE_MASTER_KEY\)/);
  });

  test('Workers: a file: URL is refused, an unknown region named', () => {
    assert.match(problemOf(() => parseWorkerEnv(workerEnv({ POSTLANE_DB_URL: 'file:x.db' }))), /POSTLANE_DB_URL: must be an http\(s\):\/\/ or libsql:\/\//);
    assert.match(problemOf(() => parseWorkerEnv(workerEnv({ POSTLANE_REGIONS: 'eu,US!' }))), /POSTLANE_REGIONS/);
    assert.match(problemOf(() => parseWorkerEnv(workerEnv({ POSTLANE_DOH_URL: 'nope' }))), /POSTLANE_DOH_URL/);
  });

  test('Workers: a missing Durable Object binding is named (with the settings problems)', () => {
    const { RATE_COUNTER: _, ...env } = workerEnv();
    assert.match(problemOf(() => parseWorkerEnv(env)), /RATE_COUNTER: Durable Object binding missing/);
    const both = problemOf(() => parseWorkerEnv({ LEASE_HUB: {}, POSTLANE_DB_URL: 'http://x' }));
    assert.match(both, /POSTLANE_MASTER_KEY: required/);
    assert.match(both, /RATE_COUNTER: Durable Object binding missing/);
  });

  test('Workers: a setting under its old unprefixed name is named with its new one', () => {
    const { POSTLANE_DB_URL: _, ...env } = workerEnv({ DB_URL: 'http://127.0.0.1:8080', TENANT_RATE: '10' });
    const message = problemOf(() => parseWorkerEnv(env));
    assert.match(message, /DB_URL: renamed to POSTLANE_DB_URL/);
    assert.match(message, /TENANT_RATE: renamed to POSTLANE_TENANT_RATE/);
  });
});

describe('settings: values', () => {
  test('rates: N/s, N/min, N/h and a bare number (per second)', () => {
    assert.equal(parseRateSetting('5000/s'), 5000);
    assert.equal(parseRateSetting('300/min'), 5);
    assert.equal(parseRateSetting('7200/h'), 2);
    assert.equal(parseRateSetting('250'), 250);
    assert.equal(parseRateSetting('0.5'), 0.5);
    assert.equal(parseRateSetting(' 10 / s '), 10);
    for (const bad of ['', 'fast', '0', '0/s', '-5', '5/fortnight', '5/s/s']) assert.equal(parseRateSetting(bad), null, bad);
  });

  test('POSTLANE_TENANT_RATE=5000/s, as the README writes it, is 5000 per second on both runtimes', () => {
    assert.equal(parseNodeEnv({ POSTLANE_TENANT_RATE: '5000/s' }).POSTLANE_TENANT_RATE, 5000);
    assert.equal(parseWorkerEnv(workerEnv({ POSTLANE_TENANT_RATE: '5000/s' })).POSTLANE_TENANT_RATE, 5000);
    assert.equal(appConfig(parseNodeEnv({ POSTLANE_TENANT_RATE: '600/min' })).tenantRatePerSec, 10);
    assert.equal(appConfig(parseNodeEnv({})).tenantRatePerSec, 5000);
  });

  test('one mapping to AppConfig', () => {
    const config = appConfig(parseNodeEnv({ POSTLANE_MAX_MESSAGE_BYTES: '65536', POSTLANE_TENANT_BURST: '9', POSTLANE_LANE_BACKLOG_LIMIT: '7', POSTLANE_MAX_CONCURRENT_REQUESTS: '64', POSTLANE_LEASE_TTL_MS: '3000', POSTLANE_HEARTBEAT_MS: '500', POSTLANE_REQUIRE_VERIFIED_DOMAIN: '1', POSTLANE_SPF_INCLUDE: 'SPF.Example.NET', POSTLANE_INTAKE_HOST: 'intake.example.net', POSTLANE_BASELINE_DAYS: '21' }));
    assert.deepEqual(config, { maxMessageBytes: 65536, tenantRatePerSec: 5000, tenantBurst: 9, laneBacklogLimit: 7, maxConcurrentRequests: 64, leaseTtlMs: 3000, heartbeatMs: 500, requireVerifiedDomain: true, baselineDays: 21, domainAuth: { spfInclude: 'spf.example.net', intakeHost: 'intake.example.net' } });
  });

  test('defaults per runtime: the hub tick is 250 ms on Node and 1 s on Workers', () => {
    assert.equal(parseNodeEnv({}).POSTLANE_HUB_TICK_MS, 250);
    assert.equal(parseWorkerEnv(workerEnv()).POSTLANE_HUB_TICK_MS, 1000);
    assert.equal(parseNodeEnv({ POSTLANE_HUB_TICK_MS: '100' }).POSTLANE_HUB_TICK_MS, 100);
  });

  test('a setting of the other runtime is not read', () => {
    assert.doesNotThrow(() => parseNodeEnv({ POSTLANE_DOH_URL: 'nope', POSTLANE_REGIONS: 'NOT A REGION' }));
    assert.doesNotThrow(() => parseWorkerEnv(workerEnv({ PORT: 'eighty', POSTLANE_SHAPING_FILE: '/nonexistent' })));
  });

  test('Workers vars may be numbers or booleans (wrangler.toml without quotes)', () => {
    const s = parseWorkerEnv(workerEnv({ POSTLANE_HUB_TICK_MS: 500, POSTLANE_REQUIRE_VERIFIED_DOMAIN: true }));
    assert.equal(s.POSTLANE_HUB_TICK_MS, 500);
    assert.equal(s.POSTLANE_REQUIRE_VERIFIED_DOMAIN, true);
  });

  test('the shaping document, inline on both runtimes, becomes the provider table', () => {
    const doc = JSON.stringify({ providers: { corpmail: { domains: ['corp.example'], shaping: { ratePerIp: '600/min' } } } });
    const node = parseNodeEnv({ POSTLANE_SHAPING_POLICY: doc });
    const worker = parseWorkerEnv(workerEnv({ POSTLANE_SHAPING_POLICY: doc }));
    assert.ok(node.shapingPolicy?.providers.corpmail);
    assert.deepEqual(worker.shapingPolicy, node.shapingPolicy);
    assert.equal(appConfig(node).shapingPolicy, node.shapingPolicy);
    assert.match(problemOf(() => parseSettings({ POSTLANE_SHAPING_POLICY: doc, POSTLANE_SHAPING_FILE: '/x' }, 'node', { readFile: () => doc })), /POSTLANE_SHAPING_FILE: give the shaping overrides once/);
  });
});

describe('settings: npm start', () => {
  const start = (env: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'postlane-settings-'));
    try {
      return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'edge/node.ts')], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
        env: { PATH: process.env.PATH, POSTLANE_DATA_DIR: dir, PORT: '0', POSTLANE_LOG_LEVEL: 'info', ...env },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('a bad POSTLANE_ROUTES stops start-up naming it, before the edge listens', () => {
    const run = start({ POSTLANE_ROUTES: 'example.com=not a host:99999' });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /POSTLANE_ROUTES/);
    assert.doesNotMatch(run.stdout + run.stderr, /edge listening/);
    assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
  });

  test('a bad edge setting stops start-up naming it', () => {
    const run = start({ POSTLANE_TENANT_RATE: '5000 per second' });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^ {2}POSTLANE_TENANT_RATE: /m);
    assert.doesNotMatch(run.stdout, /edge listening/);
  });

  test("the embedded node's IPs are checked as POSTLANE_NODE_IPS", () => {
    const run = start({ POSTLANE_NODE_IPS: 'not-an-ip=default' });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /POSTLANE_NODE_IPS/);
    assert.doesNotMatch(run.stdout, /edge listening/);
  });
});
