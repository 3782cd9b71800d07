/**
 * CLI entry: `npm run mta-node -- --edge ws://127.0.0.1:8787 --token T --region eu --ip 127.0.0.1=default`
 * (flags and environment in config.ts). SIGINT/SIGTERM stop it gracefully: no new leases,
 * deliveries in flight drain, results are journaled and reported.
 */
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { MtaNode } from './node.ts';

const logger = createLogger();

let config;
try {
  config = loadConfig(process.argv.slice(2));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}

const node = new MtaNode({ ...config, logger });
await node.start();

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: no new leases; draining deliveries in flight, then reporting their results');
    node.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  });
}
