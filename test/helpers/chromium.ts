/**
 * A real headless Chromium for the dashboard tests: Debian's `chromium` package, driven by
 * playwright-core through its executable path (playwright's own browser download is not used:
 * it needs hosts the machines cannot reach). When /usr/bin/chromium is missing and the test runs
 * as root, `apt-get install -y chromium` runs once, as an async child (the in-process platform
 * keeps serving meanwhile), after `apt-get update` if the package lists do not have it yet.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4096));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => resolve({ code: null, output: `${output}${err.message}` }));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

let installing: Promise<string> | null = null;

/** The path of a Chromium to launch; installs Debian's package first if it is missing. */
export function ensureChromium(): Promise<string> {
  if (existsSync(CHROMIUM)) return Promise.resolve(CHROMIUM);
  installing ??= (async () => {
    if (process.getuid?.() !== 0) {
      throw new Error(`${CHROMIUM} is missing and the tests are not root: install it with \`sudo apt-get update && sudo apt-get install -y chromium\``);
    }
    let install = await run('apt-get', ['install', '-y', 'chromium']);
    if (install.code !== 0) {
      // A fresh machine may have no package lists yet.
      const update = await run('apt-get', ['update']);
      if (update.code !== 0) throw new Error(`apt-get update failed (${update.code}): ${update.output.trim()}`);
      install = await run('apt-get', ['install', '-y', 'chromium']);
    }
    if (install.code !== 0 || !existsSync(CHROMIUM)) throw new Error(`apt-get install chromium failed (${install.code}): ${install.output.trim()}`);
    return CHROMIUM;
  })();
  return installing;
}
