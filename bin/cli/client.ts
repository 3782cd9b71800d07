/**
 * Where the CLI talks to and how: the API URL and key from flags, the environment
 * (POSTLANE_URL, POSTLANE_API_KEY) or a profile file (~/.config/postlane/config.json:
 * `{ "default": { "url": …, "api_key": … }, "<name>": { … } }`), in that order; and one fetch
 * wrapper that turns API errors into exit codes.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Exit codes: 0 ok, 1 the API refused or failed, 2 bad usage, 3 partly done. */
export const EXIT = { ok: 0, api: 1, usage: 2, partial: 3 } as const;

/** An error the CLI reports and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly body: unknown = null,
  ) {
    super(message);
  }
}

export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  profile?: string;
  json?: boolean;
}

export interface Connection {
  url: string;
  apiKey: string;
}

export function profilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.POSTLANE_CONFIG ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'postlane', 'config.json');
}

function readProfile(name: string, env: NodeJS.ProcessEnv): { url?: string; api_key?: string } {
  let text: string;
  try {
    text = readFileSync(profilePath(env), 'utf8');
  } catch {
    return {};
  }
  let doc: Record<string, { url?: string; api_key?: string }>;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${profilePath(env)}: not JSON (${(e as Error).message})`, EXIT.usage);
  }
  return doc[name] ?? {};
}

export function connection(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  const profile = readProfile(opts.profile ?? env.POSTLANE_PROFILE ?? 'default', env);
  const url = opts.url ?? env.POSTLANE_URL ?? profile.url;
  const apiKey = opts.apiKey ?? env.POSTLANE_API_KEY ?? profile.api_key;
  if (!url) throw new CliError(`no API URL: pass --url, set POSTLANE_URL, or add "url" to ${profilePath(env)}`, EXIT.usage);
  if (!apiKey) throw new CliError(`no API key: pass --api-key, set POSTLANE_API_KEY, or add "api_key" to ${profilePath(env)}`, EXIT.usage);
  return { url: url.replace(/\/+$/, ''), apiKey };
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** One request; a non-2xx answer throws CliError (exit 1) with the API's error message. */
export async function api<T = any>(conn: Connection, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
  const res = await raw(conn, method, path, body, headers);
  if (res.status >= 400) throw apiFailure(res);
  return res as ApiResponse<T>;
}

/** A request whose non-2xx answers the caller handles itself. */
export async function raw(conn: Connection, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<any>> {
  let res: Response;
  try {
    res = await fetch(`${conn.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${conn.apiKey}`, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch (e) {
    throw new CliError(`cannot reach ${conn.url}: ${(e as Error).cause ?? (e as Error).message}`, EXIT.api);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

export function apiFailure(res: ApiResponse<any>): CliError {
  const e = res.body?.error;
  const detail = e ? `${e.code}: ${e.message}${e.field ? ` (field ${e.field})` : ''}` : String(res.body).slice(0, 300);
  return new CliError(`API ${res.status} ${detail}`, EXIT.api, res.body);
}
