/** The audit log: append-only rows, read newest first with a keyset cursor (the row id). */
import { and, asc, desc, eq, gt, gte, lt, lte } from 'drizzle-orm';
import type { AuditQuery, AuditStore, NewAuditEntry } from '../../ports/store.ts';
import { auditLog } from '../schema.ts';
import { chunks, type PostlaneDb } from './db.ts';

/** Statements that append audit entries, for a caller's own batch (config apply) or alone. */
export function auditInserts(db: PostlaneDb, entries: NewAuditEntry[]) {
  return chunks(entries, 50).map((rows) => db.insert(auditLog).values(rows));
}

export class LibsqlAudit implements AuditStore {
  constructor(private readonly db: PostlaneDb) {}

  async appendAudit(entries: NewAuditEntry[]) {
    if (entries.length === 0) return;
    const [first, ...rest] = auditInserts(this.db, entries);
    if (rest.length === 0) await first;
    else await this.db.batch([first, ...rest]);
  }

  async listAudit(q: AuditQuery) {
    const where = and(
      q.tenantId !== undefined ? eq(auditLog.tenantId, q.tenantId) : undefined,
      q.actorKeyId ? eq(auditLog.actorKeyId, q.actorKeyId) : undefined,
      q.targetKind ? eq(auditLog.targetKind, q.targetKind) : undefined,
      q.targetId ? eq(auditLog.targetId, q.targetId) : undefined,
      q.since !== undefined ? gte(auditLog.at, q.since) : undefined,
      q.until !== undefined ? lte(auditLog.at, q.until) : undefined,
      q.before !== undefined ? lt(auditLog.id, q.before) : undefined,
      q.after !== undefined ? gt(auditLog.id, q.after) : undefined,
    );
    return this.db.select().from(auditLog).where(where).orderBy(q.after !== undefined ? asc(auditLog.id) : desc(auditLog.id)).limit(q.limit);
  }
}
