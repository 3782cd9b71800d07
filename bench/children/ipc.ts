/** Shared by every bench child: talk to the parent over IPC, leave when it goes away. */
export function send(msg: Record<string, unknown>): void {
  process.send?.(msg);
}

/** Runs `cleanup` then exits on SIGTERM/SIGINT or when the parent's IPC channel closes. */
export function onShutdown(cleanup: () => Promise<void> | void): void {
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    const hard = setTimeout(() => process.exit(code), 10_000);
    hard.unref();
    Promise.resolve()
      .then(cleanup)
      .catch((err) => console.error('[bench child] cleanup failed:', err))
      .finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  process.on('disconnect', () => stop(0));
}

export function fail(err: unknown): never {
  send({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  console.error(err);
  process.exit(1);
}
