/**
 * `postlane send`: one message from a JSON file or stdin, or a batch from CSV / NDJSON rows.
 *
 * A batch goes out in chunks of rows through POST /v1/messages/batch. Each chunk's
 * Idempotency-Key is the run id, the chunk's number and a hash of its rows, and the state file
 * records the run id and the chunks the API acknowledged; so a run that was interrupted (killed,
 * a network failure) resumes where it stopped, and a chunk that was sent but not yet recorded is
 * answered from the API's idempotency record instead of being sent twice.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { text as readStream } from 'node:stream/consumers';
import cliProgress from 'cli-progress';
import Mustache from 'mustache';
import { CliError, EXIT, raw, type Connection } from './client.ts';

export interface BatchOptions {
  from?: string;
  subject?: string;
  text?: string;
  html?: string;
  lane?: string;
  pool?: string;
  chunk: number;
  state?: string;
  json?: boolean;
  format?: 'csv' | 'ndjson';
}

interface RunState {
  runId: string;
  input: string;
  /** Chunk number → messages the API accepted in it. */
  done: Record<string, number>;
  /** Chunk number → the API's error, for chunks it refused (not retried on resume). */
  failed: Record<string, string>;
}

/** RFC 4180 CSV: a header row, fields optionally quoted ("" inside quotes is one quote). */
export function parseCsv(input: string): Array<Record<string, string>> {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (quoted) {
      if (ch === '"' && input[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && input[i + 1] === '\n') i++;
      row.push(field), (field = '');
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += ch;
  }
  if (field !== '' || row.length) (row.push(field), rows.push(row));
  const [header, ...body] = rows;
  if (!header) return [];
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h.trim(), r[i] ?? ''])));
}

function parseRows(text: string, format: 'csv' | 'ndjson'): Array<Record<string, unknown>> {
  if (format === 'csv') return parseCsv(text);
  return text
    .split('\n')
    .map((l, i) => [l.trim(), i] as const)
    .filter(([l]) => l)
    .map(([l, i]) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new CliError(`line ${i + 1}: not JSON (${(e as Error).message})`, EXIT.usage);
      }
    });
}

/** A row as a message: its columns, over the flags' defaults; subject/text/html are Mustache templates over the row. */
function messageOf(row: Record<string, unknown>, o: BatchOptions, index: number): Record<string, unknown> {
  const pick = (k: string, fallback?: string) => (row[k] !== undefined && row[k] !== '' ? row[k] : fallback);
  const render = (t: unknown) => (typeof t === 'string' ? Mustache.render(t, row, {}, { escape: (s: string) => s }) : t);
  const to = pick('to');
  if (!to) throw new CliError(`row ${index + 1}: no "to"`, EXIT.usage);
  const message: Record<string, unknown> = { from: pick('from', o.from), to, subject: render(pick('subject', o.subject)) ?? '' };
  for (const k of ['text', 'html'] as const) {
    const v = render(pick(k, o[k]));
    if (v !== undefined) message[k] = v;
  }
  for (const k of ['lane', 'pool'] as const) if (pick(k, o[k])) message[k] = pick(k, o[k]);
  for (const k of ['cc', 'bcc', 'reply_to', 'tags', 'headers', 'send_at', 'constraints']) if (row[k] !== undefined && row[k] !== '') message[k] = row[k];
  if (!message.from) throw new CliError(`row ${index + 1}: no "from" (a column, or --from)`, EXIT.usage);
  return message;
}

function loadState(path: string, input: string): RunState {
  if (existsSync(path)) {
    const state = JSON.parse(readFileSync(path, 'utf8')) as RunState;
    if (state.input !== input) throw new CliError(`${path} belongs to another input; remove it or pass --state`, EXIT.usage);
    return state;
  }
  return { runId: randomUUID(), input, done: {}, failed: {} };
}

function saveState(path: string, state: RunState) {
  // Written whole and renamed: a kill mid-write leaves the previous state.
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends one chunk, waiting out 429 and 503 (Retry-After) and network failures; a 4xx is the chunk's failure. */
async function sendChunk(conn: Connection, messages: unknown[], key: string): Promise<{ accepted: number } | { error: string }> {
  for (let attempt = 0; ; attempt++) {
    let res: Awaited<ReturnType<typeof raw>>;
    try {
      res = await raw(conn, 'POST', '/v1/messages/batch', { messages }, { 'idempotency-key': key });
    } catch (e) {
      if (attempt >= 8) throw e;
      await sleep(Math.min(30_000, 500 * 2 ** attempt));
      continue;
    }
    if (res.status === 202) return { accepted: res.body.data.length };
    if ((res.status === 429 || res.status >= 500) && attempt < 8) {
      await sleep(Math.max(Number(res.headers.get('retry-after') ?? 1) * 1000, 250 * 2 ** attempt));
      continue;
    }
    const e = res.body?.error;
    return { error: e ? `${res.status} ${e.code}: ${e.message}` : `HTTP ${res.status}` };
  }
}

export async function sendBatch(conn: Connection, file: string, o: BatchOptions): Promise<number> {
  const format = o.format ?? (file.endsWith('.ndjson') || file.endsWith('.jsonl') ? 'ndjson' : 'csv');
  const text = file === '-' ? await readStream(process.stdin) : readFileSync(file, 'utf8');
  const input = createHash('sha256').update(text).digest('hex');
  const rows = parseRows(text, format);
  const messages = rows.map((r, i) => messageOf(r, o, i));
  const statePath = o.state ?? (file === '-' ? `.postlane-send-${input.slice(0, 12)}.state.json` : `${file}.postlane-state.json`);
  const state = loadState(statePath, input);
  saveState(statePath, state);

  const chunks = Math.ceil(messages.length / o.chunk);
  const total = messages.length;
  let sent = Object.values(state.done).reduce((a, b) => a + b, 0);
  let failedRows = Object.keys(state.failed).reduce((n, c) => n + Math.min(o.chunk, total - Number(c) * o.chunk), 0);
  const bar = !o.json && process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'sending [{bar}] {value}/{total} rows | {percentage}% | ETA {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  const report = (event: string, extra: Record<string, unknown> = {}) => {
    if (o.json) process.stdout.write(`${JSON.stringify({ event, run_id: state.runId, total, accepted: sent, failed: failedRows, ...extra })}\n`);
  };
  bar?.start(total, sent + failedRows);
  report(sent + failedRows > 0 ? 'resume' : 'start', { state: statePath });
  for (let c = 0; c < chunks; c++) {
    if (state.done[c] !== undefined || state.failed[c] !== undefined) continue;
    const part = messages.slice(c * o.chunk, (c + 1) * o.chunk);
    // The key names the run, the chunk and its content: the same chunk of the same run replays.
    const key = `cli:${state.runId}:${c}:${createHash('sha256').update(JSON.stringify(part)).digest('hex').slice(0, 16)}`;
    const outcome = await sendChunk(conn, part, key);
    if ('accepted' in outcome) (state.done[c] = outcome.accepted), (sent += outcome.accepted);
    else (state.failed[c] = outcome.error), (failedRows += part.length), report('chunk_failed', { chunk: c, rows: [c * o.chunk + 1, c * o.chunk + part.length], error: outcome.error });
    saveState(statePath, state);
    bar?.update(sent + failedRows);
    report('progress', { chunk: c, chunks });
  }
  bar?.stop();
  report('done', { chunks });
  if (!o.json) process.stderr.write(`${sent} of ${total} rows accepted${failedRows ? `, ${failedRows} refused (see ${statePath})` : ''}\n`);
  return failedRows === 0 ? EXIT.ok : sent > 0 ? EXIT.partial : EXIT.api;
}

/** One message: a JSON body (the API's SendMessage) from a file or stdin. */
export async function readMessage(file: string | undefined, idempotencyKey: string | undefined) {
  const text = !file || file === '-' ? await readStream(process.stdin) : readFileSync(file, 'utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${file ?? 'stdin'}: not JSON (${(e as Error).message})`, EXIT.usage);
  }
  return { body, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} };
}
