/**
 * A private Postfix instance for the bench's baseline: its own config_directory, queue_directory
 * and data_directory under a temp dir, `postfix -c <dir> start`, smtpd on a loopback port,
 * relayhost = the smtp-sink Postlane delivers to. Nothing of the system's Postfix (if any) is
 * read or touched. The queue keeps Postfix's defaults, so cleanup(8) fsyncs every queue file
 * before smtpd answers 250 — the durability Postlane has before its 202.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POSTFIX } from './postfix-install.ts';

export interface PostfixRelay {
  port: number;
  /** The last lines of the instance's own log (maillog_file), for an error message. */
  logTail(): string;
  stop(): Promise<void>;
}

export interface PostfixRelayOptions {
  port: number;
  /** Where the relay delivers: the sink's port on 127.0.0.1. */
  relayPort: number;
  /** Outbound connections to the relayhost, as Postlane's node has to the sink. */
  destinationConcurrency: number;
  /** Deliveries per outbound connection before it is closed (Postlane: maxMessagesPerConnection). */
  reuseCount: number;
  /** main.cf lines after the relay's own; Postfix keeps a parameter's last value, so these override. */
  extraMainCf?: string[];
}

function run(args: string[], configDir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(POSTFIX, ['-c', configDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => resolve({ code: null, output: err.message }));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** main.cf: relay everything from loopback to the sink; no local delivery, no TLS, no DNS. */
function mainCf(root: string, o: PostfixRelayOptions): string {
  return `${[
    'compatibility_level = 3.6',
    `queue_directory = ${join(root, 'queue')}`,
    `data_directory = ${join(root, 'data')}`,
    'command_directory = /usr/sbin',
    'daemon_directory = /usr/lib/postfix/sbin',
    'shlib_directory = /usr/lib/postfix',
    'meta_directory = /etc/postfix',
    'mail_owner = postfix',
    'setgid_group = postdrop',
    `maillog_file = ${join(root, 'maillog')}`,
    `maillog_file_prefixes = ${root}`,
    'myhostname = relay.bench.test',
    'mydomain = bench.test',
    'myorigin = $mydomain',
    'mydestination =',
    'local_recipient_maps =',
    'local_transport = error:local delivery is disabled',
    'alias_maps =',
    'alias_database =',
    'inet_interfaces = loopback-only',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject',
    `relayhost = [127.0.0.1]:${o.relayPort}`,
    'smtp_tls_security_level = none',
    'smtpd_tls_security_level = none',
    'smtp_dns_support_level = disabled',
    'disable_dns_lookups = yes',
    'smtputf8_enable = no',
    'biff = no',
    'append_dot_mydomain = no',
    // smtp-source's 20 sessions and the outbound concurrency, not Postfix's defaults for the internet.
    'smtpd_client_connection_count_limit = 0',
    'smtpd_client_message_rate_limit = 0',
    'default_process_limit = 200',
    `smtp_destination_concurrency_limit = ${o.destinationConcurrency}`,
    'smtp_initial_destination_concurrency = 5',
    'smtp_destination_rate_delay = 0s',
    'smtp_connection_cache_on_demand = yes',
    `smtp_connection_reuse_count_limit = ${o.reuseCount}`,
    'in_flow_delay = 0s',
    ...(o.extraMainCf ?? []),
  ].join('\n')}\n`;
}

/** master.cf: the services a relay needs, none chrooted (the queue lives in a temp dir). */
const MASTER_CF = `${[
  'pickup    unix  n       -       n       60      1       pickup',
  'cleanup   unix  n       -       n       -       0       cleanup',
  'qmgr      unix  n       -       n       300     1       qmgr',
  'tlsmgr    unix  -       -       n       1000?   1       tlsmgr',
  'rewrite   unix  -       -       n       -       -       trivial-rewrite',
  'bounce    unix  -       -       n       -       0       bounce',
  'defer     unix  -       -       n       -       0       bounce',
  'trace     unix  -       -       n       -       0       bounce',
  'verify    unix  -       -       n       -       1       verify',
  'flush     unix  n       -       n       1000?   0       flush',
  'proxymap  unix  -       -       n       -       -       proxymap',
  'proxywrite unix -       -       n       -       1       proxymap',
  'smtp      unix  -       -       n       -       -       smtp',
  'relay     unix  -       -       n       -       -       smtp',
  'showq     unix  n       -       n       -       -       showq',
  'error     unix  -       -       n       -       -       error',
  'retry     unix  -       -       n       -       -       error',
  'discard   unix  -       -       n       -       -       discard',
  'anvil     unix  -       -       n       -       1       anvil',
  'scache    unix  -       -       n       -       1       scache',
  'postlog   unix-dgram n  -       n       -       1       postlogd',
].join('\n')}\n`;

/** Running instances (their config dirs), so Ctrl-C and errors stop them: they detach from the bench. */
const live = new Map<string, PostfixRelay>();

export async function stopRelays(): Promise<void> {
  await Promise.all([...live.values()].map((r) => r.stop()));
}

/** Synchronous last resort on process exit: `postfix abort` each instance still running. */
export function abortRelaysNow(): void {
  for (const etc of live.keys()) {
    try {
      execFileSync(POSTFIX, ['-c', etc, 'abort'], { stdio: 'ignore', timeout: 5_000 });
    } catch {}
  }
}

export async function startPostfixRelay(o: PostfixRelayOptions): Promise<PostfixRelay> {
  // Its own temp dir, world-traversable: the daemons run as the postfix user.
  const root = mkdtempSync(join(tmpdir(), 'postlane-bench-postfix-'));
  chmodSync(root, 0o755);
  const etc = join(root, 'etc');
  for (const d of [etc, join(root, 'queue'), join(root, 'data')]) mkdirSync(d, { recursive: true, mode: 0o755 });
  writeFileSync(join(etc, 'main.cf'), mainCf(root, o));
  writeFileSync(join(etc, 'master.cf'), MASTER_CF.replace(/^/, `127.0.0.1:${o.port} inet n - n - - smtpd\n`));
  const logTail = () => {
    const path = join(root, 'maillog');
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(-12).join('\n') : '(no maillog)';
  };
  // set-permissions creates the queue's subdirectories with the owners and modes Postfix wants.
  const perms = await run(['set-permissions'], etc);
  const started = perms.code === 0 ? await run(['start'], etc) : perms;
  if (started.code !== 0) {
    await run(['abort'], etc);
    rmSync(root, { recursive: true, force: true });
    throw new Error(`postfix -c ${etc} ${perms.code === 0 ? 'start' : 'set-permissions'} failed (${started.code}): ${started.output.trim().slice(-600)}`);
  }
  let stopped = false;
  const relay: PostfixRelay = {
    port: o.port,
    logTail,
    async stop() {
      if (stopped) return;
      stopped = true;
      const r = await run(['stop'], etc);
      if (r.code !== 0) await run(['abort'], etc);
      live.delete(etc);
      rmSync(root, { recursive: true, force: true });
    },
  };
  live.set(etc, relay);
  return relay;
}
