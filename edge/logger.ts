/**
 * The logging port: pino's calling convention (`log.info({ fields }, 'message')`), so the Node
 * entry passes pino itself and the Worker a JSON console logger with the same shape.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Errors have no enumerable fields; log what an operator needs, as pino's serializer does. */
function errorsAsJson(_key: string, value: unknown) {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack, cause: value.cause };
  return value;
}

/** Structured JSON lines on the console, for runtimes without pino (Workers). */
export function consoleLogger(level: LogLevel = 'info', bindings: object = {}): Logger {
  const threshold = LEVELS[level];
  const emit = (lvl: Exclude<LogLevel, 'silent'>) => (obj: object, msg?: string) => {
    if (LEVELS[lvl] < threshold) return;
    console.log(JSON.stringify({ level: lvl, time: Date.now(), ...bindings, ...obj, msg }, errorsAsJson));
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => consoleLogger(level, { ...bindings, ...more }),
  };
}
