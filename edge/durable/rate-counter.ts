/**
 * The rate counter Durable Object: token buckets by name, held in the object's SQLite storage so
 * every edge instance draws from the same budget. The caller computes the object's name (e.g.
 * `tenant:<id>:send`, `provider:gmail:pool:default`), one object per bucket, so buckets never
 * contend with each other. The arithmetic is the shared pure one (shared/policy/token-bucket.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import { take, type BucketState } from '../../shared/policy/token-bucket.ts';
import type { BucketLimit, TakeResult } from '../ports/counters.ts';

export class RateCounter extends DurableObject {
  private readonly cache = new Map<string, BucketState>();

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL)');
  }

  /** Takes `n` tokens from bucket `name` whole, or none and says when they will be there. */
  take(name: string, n: number, limit: BucketLimit): TakeResult {
    if (typeof name !== 'string' || !name || !(n >= 0) || !(limit?.ratePerSec >= 0) || !(limit?.burst >= 0)) {
      throw new TypeError('take(name, n >= 0, { ratePerSec >= 0, burst >= 0 })');
    }
    const now = Date.now();
    let state = this.cache.get(name);
    if (!state) {
      const row = this.ctx.storage.sql.exec<{ tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM buckets WHERE name = ?', name).toArray()[0];
      state = row ? { tokens: row.tokens, updatedAt: row.updated_at } : undefined;
    }
    const result = take(state ?? null, n, now, limit);
    this.cache.set(name, result.state);
    // Synchronous SQLite write: it is committed before the answer leaves the object.
    this.ctx.storage.sql.exec(
      'INSERT INTO buckets (name, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at',
      name,
      result.state.tokens,
      result.state.updatedAt,
    );
    return { granted: result.granted, remaining: Math.floor(result.state.tokens), retryAfterMs: result.retryAfterMs };
  }
}
