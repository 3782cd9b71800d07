/**
 * `postlane`: the Postlane CLI (SPEC §7). Talks to the HTTP API; `postlane node` runs an MTA
 * node in this process. Exit codes: 0 ok, 1 the API refused or failed, 2 bad usage, 3 partly done.
 */
import { Command, CommanderError } from 'commander';
import { api, CliError, connection, EXIT, type GlobalOptions } from './cli/client.ts';
import { readMessage, sendBatch } from './cli/send.ts';
import { registerConfig, registerDlq, registerHolds, registerMessages, registerResources, registerTail } from './cli/commands.ts';
import { print } from './cli/output.ts';

const program = new Command('postlane')
  .description('Postlane: send, trace, replay dead letters, approve holds, manage configuration')
  .option('--url <url>', 'API base URL (env POSTLANE_URL, or the profile file)')
  .option('--api-key <key>', 'API key (env POSTLANE_API_KEY, or the profile file)')
  .option('--profile <name>', 'profile in ~/.config/postlane/config.json (env POSTLANE_PROFILE)', undefined)
  .option('--json', 'machine-readable output')
  .exitOverride()
  .showHelpAfterError();
const globals = () => program.opts<GlobalOptions>();

program
  .command('send [file]')
  .description('send one message (JSON body, from a file or stdin), or --batch rows from CSV / NDJSON')
  .option('--batch', 'the file holds rows: CSV with a header, or NDJSON (.ndjson/.jsonl)')
  .option('--format <f>', 'csv | ndjson (default: by the file name)')
  .option('--from <address>', 'default From for rows without one')
  .option('--subject <template>', 'default subject (Mustache over the row)')
  .option('--text <template>', 'default text body (Mustache over the row)')
  .option('--html <template>', 'default HTML body (Mustache over the row)')
  .option('--lane <lane>')
  .option('--pool <pool>')
  .option('--chunk <n>', 'rows per request', '100')
  .option('--state <path>', 'resume state file (default <file>.postlane-state.json)')
  .option('--idempotency-key <key>', 'for a single message')
  .action(async (file: string | undefined, o) => {
    const g = globals();
    const conn = connection(g);
    if (o.batch) {
      if (!file) throw new CliError('--batch needs a file (or - for stdin)', EXIT.usage);
      const chunk = Number(o.chunk);
      if (!Number.isInteger(chunk) || chunk < 1 || chunk > 1000) throw new CliError('--chunk: 1 to 1000 rows', EXIT.usage);
      process.exitCode = await sendBatch(conn, file, { ...o, chunk, json: g.json });
      return;
    }
    const { body, headers } = await readMessage(file, o.idempotencyKey);
    const res = await api(conn, 'POST', '/v1/messages', body, headers);
    print(g.json, res.body, () => `${res.body.id} ${res.body.status} (${res.body.recipients} recipients)\n`);
  });

registerMessages(program, globals);
registerDlq(program, globals);
registerHolds(program, globals);
registerResources(program, globals);
registerConfig(program, globals);
registerTail(program, globals);

program
  .command('node')
  .description('run an MTA node in this process (the flags of mta-node/main.ts: --edge, --token, --region, --ip, --status-port, …)')
  .argument('[flags...]', 'the node\'s flags')
  .allowUnknownOption()
  .allowExcessArguments()
  .helpOption(false)
  .action(async () => {
    const at = process.argv.indexOf('node', 2);
    process.argv = [process.argv[0], process.argv[1], ...process.argv.slice(at + 1)];
    await import('../mta-node/main.ts');
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (e instanceof CliError) {
    if (program.opts().json && e.body) process.stdout.write(`${JSON.stringify(e.body)}\n`);
    process.stderr.write(`postlane: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`postlane: ${(e as Error).stack ?? e}\n`);
    process.exitCode = EXIT.api;
  }
}
