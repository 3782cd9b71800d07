/**
 * The Node runtime's settings: edge/settings.ts (one schema for both runtimes) read from the
 * environment, with the shaping file read from disk. A bad value throws SettingsError naming
 * the variable.
 */
import { readFileSync } from 'node:fs';
import { parseSettings, type Settings } from '../settings.ts';

export type NodeEnv = Settings;

export function parseNodeEnv(env: Record<string, string | undefined>): NodeEnv {
  return parseSettings(env, 'node', { readFile: (path) => readFileSync(path, 'utf8') });
}
