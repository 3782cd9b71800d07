/**
 * Installs Postfix for the bench when its tools are missing: `smtp-sink` / `smtp-source` (the
 * sink and the raw SMTP load generator) and `postfix` itself (the baseline relay). Debian's
 * package asks which configuration to write; the answer is preseeded to "No configuration", so
 * the package neither writes /etc/postfix/main.cf nor starts a system daemon (the bench runs its
 * own private instance, lib/postfix-relay.ts). Only as root, or through passwordless sudo.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SMTP_SINK, SMTP_SOURCE } from './smtp.ts';

export const POSTFIX = '/usr/sbin/postfix';

export function postfixInstalled(): boolean {
  return existsSync(SMTP_SINK) && existsSync(SMTP_SOURCE) && existsSync(POSTFIX);
}

/** debconf answers for the postfix package: no configuration, local-only mail name. */
const PRESEED = ['postfix postfix/main_mailer_type select No configuration', 'postfix postfix/mailname string bench.invalid', ''].join('\n');

interface Run {
  code: number | null;
  output: string;
}

/** An async child (the bench's own children keep running meanwhile); keeps the last 4 KB of output. */
function run(cmd: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', DEBCONF_NONINTERACTIVE_SEEN: 'true' } });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4096));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => resolve({ code: null, output: `${output}${err.message}` }));
    child.once('exit', (code) => resolve({ code, output }));
    child.stdin.end(input ?? '');
  });
}

/** How to run a command as root: directly, through `sudo -n`, or not at all. */
async function asRoot(): Promise<string[] | null> {
  if (process.getuid?.() === 0) return [];
  const sudo = await run('sudo', ['-n', 'true']);
  return sudo.code === 0 ? ['sudo', '-n'] : null;
}

/**
 * Makes sure smtp-sink, smtp-source and postfix are installed; installs the postfix package if
 * not. Throws with what to do when it cannot (not root and no passwordless sudo, apt-get failed).
 */
export async function ensurePostfix(log: (s: string) => void): Promise<void> {
  if (postfixInstalled()) return;
  const root = await asRoot();
  const manual = 'install it with `sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postfix` (choose "No configuration"), then run the bench again';
  if (!root) throw new Error(`Postfix (smtp-sink, smtp-source, postfix) is not installed and the bench is neither root nor allowed passwordless sudo: ${manual}`);
  const [cmd, ...pre] = root.length ? root : [''];
  const exec = (program: string, args: string[], input?: string) => (root.length ? run(cmd, [...pre, program, ...args], input) : run(program, args, input));
  log('Postfix is missing: installing the postfix package (debconf preseeded to "No configuration"; no system daemon is configured or started)');
  const seeded = await exec('debconf-set-selections', [], PRESEED);
  if (seeded.code !== 0) throw new Error(`debconf-set-selections failed (${seeded.code}): ${seeded.output.trim()}; ${manual}`);
  // Another apt-get (a test installing what it needs) may hold the dpkg lock: wait for it.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
  const install = () => exec('apt-get', [...lockWait, 'install', '-y', '--no-install-recommends', 'postfix']);
  let got = await install();
  if (got.code !== 0) {
    // A fresh image often has no package lists yet.
    log('apt-get install failed; running apt-get update once and trying again');
    const update = await exec('apt-get', [...lockWait, 'update']);
    if (update.code !== 0) throw new Error(`apt-get update failed (${update.code}): ${update.output.trim().slice(-800)}; ${manual}`);
    got = await install();
  }
  if (got.code !== 0 || !postfixInstalled()) throw new Error(`apt-get install postfix failed (${got.code}): ${got.output.trim().slice(-800)}; ${manual}`);
  log('Postfix installed');
}
