/** The CLI's resource commands: each one API call (or a few), a table for people and JSON for scripts. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { api, CliError, connection, EXIT, type GlobalOptions } from './client.ts';
import { print, table } from './output.ts';

type Globals = () => GlobalOptions;
const enc = encodeURIComponent;
const query = (params: Record<string, unknown>) => {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== false).map(([k, v]) => [k, String(v)]));
  return q.size ? `?${q}` : '';
};

export function registerMessages(program: Command, globals: Globals) {
  program
    .command('status <id>')
    .description('a message: status and recipients')
    .action(async (id: string) => {
      const g = globals();
      const { body } = await api(connection(g), 'GET', `/v1/messages/${enc(id)}`);
      print(g.json, body, () => `${body.id}  ${body.status}  lane ${body.lane}  pool ${body.pool}  "${body.subject}"\n${table(body.recipients, ['recipient', 'state', 'attempts', 'provider', 'last_reply'])}`);
    });
  program
    .command('trace <id>')
    .description("a message's trace: every event in order")
    .action(async (id: string) => {
      const g = globals();
      const { body } = await api(connection(g), 'GET', `/v1/messages/${enc(id)}`);
      print(g.json, body.events, () => table(body.events.map((e: any) => ({ ...e, data: summary(e.data) })), ['seq', 'at', 'type', 'job_id', 'data']));
    });
}

function summary(data: Record<string, unknown> | null): string {
  if (!data) return '';
  return Object.entries(data)
    .filter(([, v]) => v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export function registerDlq(program: Command, globals: Globals) {
  const dlq = program.command('dlq').description('dead letters: list and replay');
  const filters = (c: Command) =>
    c
      .option('--reason-class <class>')
      .option('--provider <p>')
      .option('--domain <d>', 'recipient domain')
      .option('--sender-domain <d>')
      .option('--pool <p>')
      .option('--lane <l>')
      .option('--since <iso>')
      .option('--until <iso>');
  const filterOf = (o: Record<string, string>) => ({
    reason_class: o.reasonClass, provider: o.provider, domain: o.domain, sender_domain: o.senderDomain, pool: o.pool, lane: o.lane, since: o.since, until: o.until,
  });
  filters(dlq.command('list').description('dead-lettered jobs, newest first'))
    .option('--limit <n>', 'rows', '50')
    .option('--cursor <job id>')
    .option('--reveal <reason>', 'show headers and body (admin key; the reason is audited)')
    .action(async (o) => {
      const g = globals();
      const { body } = await api(connection(g), 'GET', `/v1/dead-letters${query({ ...filterOf(o), limit: o.limit, cursor: o.cursor, reason: o.reveal })}`);
      print(g.json, body, () => table(body.data, ['job_id', 'recipient', 'state', 'reason_class', 'pool', 'dead_at', 'last_reply', 'replayed_by']) + (body.next_cursor ? `next: --cursor ${body.next_cursor}\n` : ''));
    });
  filters(dlq.command('replay [ids...]').description('replay dead letters by id, or all matching the filters, with new constraints'))
    .option('--to-pool <pool>', 'replay through this pool')
    .option('--to-lane <lane>')
    .option('--region <r>')
    .option('--force', 'replay to suppressed recipients too (needs --reason)')
    .option('--reason <text>')
    .action(async (ids: string[], o) => {
      const g = globals();
      const f = Object.fromEntries(Object.entries(filterOf(o)).filter(([, v]) => v !== undefined));
      if (ids.length === 0 && Object.keys(f).length === 0) throw new CliError('name job ids or at least one filter', EXIT.usage);
      const req = { ...(ids.length ? { ids } : { filter: f }), pool: o.toPool, lane: o.toLane, region: o.region, force: Boolean(o.force), reason: o.reason };
      const { body } = await api(connection(g), 'POST', '/v1/dead-letters/replay', req);
      print(g.json, body, () =>
        `${body.replayed.length} replayed, ${body.already_replayed.length} already replayed, ${body.refused.length} refused, ${body.not_found.length} not found\n${table(body.refused, ['original_job_id', 'recipient', 'reason'])}`,
      );
      if (body.refused.length || body.not_found.length) process.exitCode = body.replayed.length ? EXIT.partial : EXIT.api;
    });
}

export function registerHolds(program: Command, globals: Globals) {
  const holds = program.command('holds').description('rogue batches held for approval');
  holds
    .command('list')
    .option('--status <s>', 'pending | approved | rejected')
    .action(async (o) => {
      const g = globals();
      const { body } = await api(connection(g), 'GET', `/v1/holds${query({ status: o.status })}`);
      print(g.json, body, () => table(body.data, ['id', 'scope', 'key', 'status', 'held_jobs', 'volume', 'threshold', 'created_at', 'reason']));
    });
  for (const verb of ['approve', 'reject'] as const) {
    holds
      .command(`${verb} <id>`)
      .option('--reason <text>')
      .action(async (id: string, o) => {
        const g = globals();
        const { body } = await api(connection(g), 'POST', `/v1/holds/${enc(id)}/${verb}`, o.reason ? { reason: o.reason } : {});
        print(g.json, body, () => `${body.id} ${body.status}: ${body.jobs} jobs\n`);
      });
  }
}

export function registerResources(program: Command, globals: Globals) {
  const nodes = program.command('nodes').description('MTA nodes and their tokens');
  nodes.command('list').action(async () => {
    const g = globals();
    const { body } = await api(connection(g), 'GET', '/v1/nodes');
    print(g.json, body, () => table(body.data.map((n: any) => ({ ...n, ips: (n.ips ?? []).map((i: any) => `${i.address}=${i.pool}`).join(' ') })), ['node_id', 'region', 'version', 'ips', 'credits', 'leased', 'connected_at']));
  });
  nodes
    .command('token')
    .description('create a node token (shown once)')
    .requiredOption('--region <r>')
    .option('--ip <addr...>', 'source IPs the node may send from', ['*'])
    .option('--name <name>')
    .action(async (o) => {
      const g = globals();
      const { body } = await api(connection(g), 'POST', '/v1/nodes/tokens', { region: o.region, allowed_ips: o.ip, ...(o.name ? { name: o.name } : {}) });
      print(g.json, body, () => `${body.token}\n`);
    });

  const domains = program.command('domains').description('sending domains');
  domains.command('list').action(async () => {
    const g = globals();
    const { body } = await api(connection(g), 'GET', '/v1/domains');
    print(g.json, body, () => table(body.data, ['id', 'domain', 'status', 'dkim_selector', 'checked_at']));
  });
  domains
    .command('add <domain>')
    .option('--algorithm <a>', 'rsa-sha256 | ed25519-sha256')
    .action(async (domain: string, o) => {
      const g = globals();
      const { body } = await api(connection(g), 'POST', '/v1/domains', { domain, ...(o.algorithm ? { dkim_algorithm: o.algorithm } : {}) });
      print(g.json, body, () => `${body.id} ${body.domain} ${body.status}; publish:\n${table(body.dns_records, ['purpose', 'type', 'name', 'value'])}`);
    });
  domains.command('verify <id>').action(async (id: string) => {
    const g = globals();
    const { body } = await api(connection(g), 'POST', `/v1/domains/${enc(id)}/verify`);
    print(g.json, body, () => `${body.domain} ${body.status}\n${table(body.dns_records, ['purpose', 'status', 'name', 'found', 'note'])}`);
    if (body.status !== 'verified') process.exitCode = EXIT.partial;
  });

  const sup = program.command('suppressions').description('the suppression list');
  sup
    .command('list')
    .option('--reason <r>')
    .option('--contains <text>')
    .option('--limit <n>', 'rows', '100')
    .action(async (o) => {
      const g = globals();
      const { body } = await api(connection(g), 'GET', `/v1/suppressions${query({ reason: o.reason, contains: o.contains, limit: o.limit })}`);
      print(g.json, body, () => table(body.data, ['address', 'reason', 'source', 'created_at']));
    });
  sup
    .command('add <address>')
    .option('--reason <r>', 'manual | unsubscribe | complaint | hard_bounce', 'manual')
    .option('--note <text>')
    .action(async (address: string, o) => {
      const g = globals();
      const { body } = await api(connection(g), 'POST', '/v1/suppressions', { address, reason: o.reason, ...(o.note ? { note: o.note } : {}) });
      print(g.json, body, () => `${body.address} listed (${body.reason})\n`);
    });
  sup.command('remove <address>').action(async (address: string) => {
    const g = globals();
    const { body } = await api(connection(g), 'DELETE', `/v1/suppressions/${enc(address)}`);
    print(g.json, body, () => `${body.address} removed\n`);
  });
}

export function registerConfig(program: Command, globals: Globals) {
  const documentOf = (file: string) => {
    const text = readFileSync(file === '-' ? 0 : file, 'utf8');
    const yaml = /\.ya?ml$/i.test(file) || !text.trimStart().startsWith('{');
    return { text, type: yaml ? 'application/yaml' : 'application/json' };
  };
  const showPlan = (g: GlobalOptions, plan: any) => print(g.json, plan, () => `plan ${plan.id}: ${plan.summary.create} to create, ${plan.summary.change} to change, ${plan.summary.delete} to delete\n${plan.text}\n`);
  program
    .command('plan <file>')
    .description('the diff a configuration file (YAML or JSON) would make; changes nothing')
    .action(async (file: string) => {
      const g = globals();
      const doc = documentOf(file);
      showPlan(g, (await api(connection(g), 'POST', '/v1/config/plan', doc.text, { 'content-type': doc.type })).body);
    });
  program
    .command('apply <file>')
    .description('plan a configuration file and apply the plan atomically')
    .action(async (file: string) => {
      const g = globals();
      const conn = connection(g);
      const doc = documentOf(file);
      const plan = (await api(conn, 'POST', '/v1/config/plan', doc.text, { 'content-type': doc.type })).body;
      if (!g.json) showPlan(g, plan);
      const { body } = await api(conn, 'POST', '/v1/config/apply', { plan_id: plan.id });
      print(g.json, { plan, ...body }, () => `applied: version ${body.version.seq} (${body.version.id}), ${body.version.changes} changes\n`);
    });
  program
    .command('rollback <version>')
    .description('plan a rollback to an earlier version; --yes applies it')
    .option('--yes', 'apply the rollback plan')
    .action(async (version: string, o) => {
      const g = globals();
      const conn = connection(g);
      const plan = (await api(conn, 'POST', '/v1/config/rollback', { version_id: version })).body;
      if (!o.yes) return showPlan(g, plan);
      const { body } = await api(conn, 'POST', '/v1/config/apply', { plan_id: plan.id });
      print(g.json, { plan, ...body }, () => `rolled back: version ${body.version.seq} (${body.version.id})\n`);
    });
}

export function registerTail(program: Command, globals: Globals) {
  program
    .command('tail')
    .description('follow message events as they are committed (Ctrl-C stops)')
    .option('--since <iso>', 'start here instead of now')
    .option('--interval <ms>', 'poll interval', '1000')
    .action(async (o) => {
      const g = globals();
      const conn = connection(g);
      let from = o.since ? Date.parse(o.since) : Date.now();
      if (Number.isNaN(from)) throw new CliError('--since: not an ISO time', EXIT.usage);
      let lastId = 0;
      for (;;) {
        const to = Date.now();
        const res = await fetch(`${conn.url}/v1/export/events${query({ from: new Date(from).toISOString(), to: new Date(to).toISOString() })}`, { headers: { authorization: `Bearer ${conn.apiKey}` } });
        if (!res.ok) throw new CliError(`API ${res.status} ${(await res.text()).slice(0, 300)}`, EXIT.api);
        for (const line of (await res.text()).split('\n')) {
          if (!line.trim()) continue;
          const e = JSON.parse(line);
          if (e.id <= lastId) continue;
          lastId = e.id;
          process.stdout.write(g.json ? `${line}\n` : `${e.at}  ${e.type.padEnd(14)} ${e.message_id} ${e.job_id ?? ''} ${summary(e.data)}\n`);
        }
        // Events commit in id order but their `at` may trail: overlap the window a little.
        from = to - 5_000;
        await new Promise((r) => setTimeout(r, Number(o.interval)));
      }
    });
}
