/** The node's pino logger; POSTLANE_LOG_LEVEL sets the level (tests run with `silent`). */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name = 'mta-node'): Logger {
  // Readable lines in a terminal (pino-pretty, in a worker thread), JSON lines otherwise.
  return pino({ name, level: process.env.POSTLANE_LOG_LEVEL ?? 'info', ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}) });
}
