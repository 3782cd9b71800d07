/**
 * The Node runtime's settings: one schema, parsed once at start; a bad value stops start-up with
 * a message naming the variable.
 */
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number) => z.coerce.number().int().min(min);

export const NodeEnvSchema = z.object({
  PORT: int(0).max(65535).default(8787),
  HOST: z.string().default('127.0.0.1'),
  POSTLANE_DATA_DIR: z.string().default('.postlane'),
  /** libSQL URL: `file:` (embedded), `http(s)://` or `libsql://` (sqld, Turso). */
  POSTLANE_DB_URL: z.string().optional(),
  POSTLANE_DB_AUTH_TOKEN: z.string().optional(),
  /** base64 of 32 bytes; generated into the data dir on first start when unset. */
  POSTLANE_MASTER_KEY: z.string().optional(),
  /** A fixed admin API key for the default tenant instead of a generated one. */
  POSTLANE_API_KEY: z.string().min(16).optional(),
  /** Token of the embedded MTA node; generated into the data dir when unset. */
  POSTLANE_NODE_TOKEN: z.string().min(16).optional(),
  POSTLANE_EMBEDDED_NODE: bool.default(true),
  POSTLANE_REGION: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/).default('local'),
  POSTLANE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  POSTLANE_MAX_MESSAGE_BYTES: int(1024).default(10 * 1024 * 1024),
  POSTLANE_TENANT_RATE: int(1).default(5000),
  POSTLANE_TENANT_BURST: int(1).default(20000),
  POSTLANE_LANE_BACKLOG_LIMIT: int(1).default(1_000_000),
  POSTLANE_LEASE_TTL_MS: int(500).default(60_000),
  POSTLANE_HEARTBEAT_MS: int(100).default(10_000),
  POSTLANE_STORE_TIMEOUT_MS: int(100).default(5_000),
  /** Operator bounds on every retry class: first delay and largest delay, in ms. */
  POSTLANE_RETRY_INITIAL_MS: int(1).optional(),
  POSTLANE_RETRY_MAX_MS: int(1).optional(),
  POSTLANE_REQUIRE_VERIFIED_DOMAIN: bool.default(false),
  /** JSON file of provider-table overrides (shared/policy/providers.ts), layered on the defaults. */
  POSTLANE_SHAPING_FILE: z.string().optional(),
  /** Resolvers for recipient checks at accept (`host[:port]`, comma-separated); the system's when unset. */
  POSTLANE_DNS_SERVERS: z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined)),
});

export type NodeEnv = z.infer<typeof NodeEnvSchema>;

export function parseNodeEnv(env: Record<string, string | undefined>): NodeEnv {
  const result = NodeEnvSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new Error(`invalid settings:\n${lines.join('\n')}`);
}
