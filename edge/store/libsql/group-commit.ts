/**
 * Group commit of accepts: accepts that arrive while a commit is in flight, or are released
 * together by one suppression lookup, share the next transaction, so concurrent requests cost
 * one commit instead of one each. A group that fails (typically one request's idempotency key
 * already taken) is retried request by request, so each caller gets its own outcome and no
 * request's rows depend on another's.
 */
import { and, eq } from 'drizzle-orm';
import type { InStatement } from '@libsql/client';
import type { AcceptOutcome, IdempotencyClaim, NewMessage } from '../../ports/store.ts';
import { deliveryJobs, idempotencyKeys, messages } from '../schema.ts';
import { rowInserter } from '../rows.ts';
import { eventStatements, INSERT_CHUNK, isUniqueViolation, type PostlaneDb } from './db.ts';

/** Requests per group commit: bounds one transaction's size and the wait behind it. */
const GROUP_COMMIT_MAX = 64;

/** Once the pending promise continuations have run: Node's nextTick; elsewhere a zero timer. */
export const afterMicrotasks = (): Promise<void> =>
  new Promise((resolve) => {
    const tick = (globalThis as { process?: { nextTick?: (f: () => void) => void } }).process?.nextTick;
    if (tick) tick(resolve);
    else setTimeout(resolve, 0);
  });

/** Node's setImmediate where it exists; elsewhere a zero timer. */
export const nextMacrotask = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

interface PendingAccept {
  tenantId: string;
  items: NewMessage[];
  idem: IdempotencyClaim | null;
  resolve(outcome: AcceptOutcome): void;
  reject(error: unknown): void;
}

export class AcceptGroupCommit {
  private pendingAccepts: PendingAccept[] = [];
  private committing = false;
  private readonly inserts = {
    messages: rowInserter(messages),
    jobs: rowInserter(deliveryJobs),
    idempotencyKeys: rowInserter(idempotencyKeys),
  };

  /** `grouped` false: every accept is its own transaction (Workers, see LibsqlStoreOptions). */
  constructor(
    private readonly db: PostlaneDb,
    private readonly grouped: boolean,
  ) {}

  accept(tenantId: string, items: NewMessage[], idem: IdempotencyClaim | null): Promise<AcceptOutcome> {
    if (!this.grouped) return this.acceptOne({ tenantId, items, idem, resolve: () => {}, reject: () => {} });
    return new Promise((resolve, reject) => {
      this.pendingAccepts.push({ tenantId, items, idem, resolve, reject });
      if (!this.committing) void this.commitPending();
    });
  }

  private async commitPending() {
    this.committing = true;
    try {
      // The embedded libSQL driver runs a transaction synchronously: without this yield no
      // other request could ever join the group. Requests reach this point together, released
      // by one coalesced suppression lookup (findSuppressions), and each gets here through
      // promise continuations alone; waiting until those have run gathers all of them without
      // giving up the rest of this turn of the event loop.
      await afterMicrotasks();
      while (this.pendingAccepts.length > 0) {
        const group = this.pendingAccepts.splice(0, GROUP_COMMIT_MAX);
        if (group.length > 1) {
          try {
            await this.db.$client.batch(this.acceptStatements(group), 'write');
            for (const p of group) p.resolve({ kind: 'accepted' });
            continue;
          } catch {
            // fall through: one by one
          }
        }
        for (const p of group) await this.acceptOne(p).then(p.resolve, p.reject);
        await nextMacrotask();
      }
    } finally {
      this.committing = false;
    }
  }

  /** The writes of a group of accepts as one statement per table (per chunk of rows). */
  private acceptStatements(group: PendingAccept[]): InStatement[] {
    const statements: InStatement[] = [];
    const claims = group.filter((p) => p.idem).map((p) => ({ tenantId: p.tenantId, idem: p.idem!, createdAt: p.items[0]?.message.createdAt ?? Date.now() }));
    if (claims.length > 0) {
      // A stale key (older than the replay window) is released in the same transaction. The
      // group's oldest cut-off is used for all: a key it leaves in place only sends its request
      // down the one-by-one path, which uses its own.
      const cutoff = Math.min(...claims.map((c) => c.idem.expiresBefore));
      statements.push({
        sql: `DELETE FROM "idempotency_keys" WHERE ("tenant_id", "key") IN (VALUES ${claims.map(() => '(?, ?)').join(', ')}) AND "created_at" < ?`,
        args: [...claims.flatMap((c) => [c.tenantId, c.idem.key]), cutoff],
      });
      statements.push(
        ...this.inserts.idempotencyKeys.statements(
          claims.map(({ tenantId, idem, createdAt }) => ({ tenantId, key: idem.key, requestHash: idem.requestHash, status: idem.status, response: idem.response, createdAt })),
          INSERT_CHUNK,
        ),
      );
    }
    const items = group.flatMap((p) => p.items);
    statements.push(
      ...this.inserts.messages.statements(items.map((i) => i.message), 50),
      ...this.inserts.jobs.statements(items.flatMap((i) => i.jobs), INSERT_CHUNK),
      ...eventStatements(items.flatMap((i) => i.events)),
    );
    return statements;
  }

  private async acceptOne(p: PendingAccept): Promise<AcceptOutcome> {
    const { tenantId, idem } = p;
    try {
      await this.db.$client.batch(this.acceptStatements([p]), 'write');
      return { kind: 'accepted' };
    } catch (error) {
      if (!idem || !isUniqueViolation(error, 'idempotency_keys')) throw error;
      const existing = await this.db.query.idempotencyKeys.findFirst({
        where: and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, idem.key)),
      });
      if (!existing) throw error;
      if (existing.requestHash !== idem.requestHash) return { kind: 'conflict' };
      return { kind: 'replay', status: existing.status, response: existing.response };
    }
  }
}
