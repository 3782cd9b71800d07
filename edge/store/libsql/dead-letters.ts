/**
 * Dead letters: jobs in a final failed state (retries spent, or a permanent refusal) with their
 * traces, and their replay as new messages whose jobs carry a unique replay key per original
 * (`replay:<original job id>` as the dedup key), so a replay twice sends once.
 */
import { and, asc, desc, eq, gte, inArray, lte, sql, type SQL } from 'drizzle-orm';
import { DEAD_STATES, replayKeyOf, type DeadLetterQuery, type DeadLetterRecord, type DeadLetterStore, type ReplayDraft, type ReplayOutcome } from '../../ports/operator.ts';
import { deliveryJobs, messageEvents, messages } from '../schema.ts';
import { rowInserter } from '../rows.ts';
import { chunks, eventStatements, INSERT_CHUNK, isUniqueViolation, type PostlaneDb } from './db.ts';

const messageInserter = rowInserter(messages);
const jobInserter = rowInserter(deliveryJobs);

export class LibsqlDeadLetters implements DeadLetterStore {
  constructor(private readonly db: PostlaneDb) {}

  async listDeadJobs(tenantId: string, q: DeadLetterQuery) {
    const where: SQL[] = [eq(deliveryJobs.tenantId, tenantId), inArray(deliveryJobs.state, [...DEAD_STATES])];
    if (q.reasonClass) where.push(eq(deliveryJobs.lastClass, q.reasonClass));
    if (q.provider) where.push(eq(deliveryJobs.provider, q.provider));
    if (q.domain) where.push(eq(deliveryJobs.domain, q.domain.toLowerCase()));
    if (q.senderDomain) where.push(eq(deliveryJobs.senderDomain, q.senderDomain.toLowerCase()));
    if (q.pool) where.push(eq(deliveryJobs.pool, q.pool));
    if (q.lane) where.push(eq(deliveryJobs.lane, q.lane));
    if (q.since !== undefined) where.push(gte(deliveryJobs.finishedAt, q.since));
    if (q.until !== undefined) where.push(lte(deliveryJobs.finishedAt, q.until));
    const replayedBy = sql`(SELECT r.id FROM ${deliveryJobs} r WHERE r.dedup_key = 'replay:' || ${deliveryJobs.id})`;
    if (q.replayed !== undefined) where.push(q.replayed ? sql`${replayedBy} IS NOT NULL` : sql`${replayedBy} IS NULL`);
    if (q.after) {
      // Keyset paging on (finished_at, id), the list's order.
      where.push(
        sql`(coalesce(${deliveryJobs.finishedAt}, 0), ${deliveryJobs.id}) < (SELECT coalesce(j2.finished_at, 0), j2.id FROM ${deliveryJobs} j2 WHERE j2.id = ${q.after} AND j2.tenant_id = ${tenantId})`,
      );
    }
    const rows = await this.db
      .select({ job: deliveryJobs, replayJobId: sql<string | null>`${replayedBy}` })
      .from(deliveryJobs)
      .where(and(...where))
      .orderBy(desc(sql`coalesce(${deliveryJobs.finishedAt}, 0)`), desc(deliveryJobs.id))
      .limit(q.limit);
    return this.withMessages(rows);
  }

  async deadJobsByIds(tenantId: string, ids: string[]) {
    if (ids.length === 0) return [];
    const out: Array<{ job: typeof deliveryJobs.$inferSelect; replayJobId: string | null }> = [];
    for (const part of chunks(ids, 300)) {
      out.push(
        ...(await this.db
          .select({ job: deliveryJobs, replayJobId: sql<string | null>`(SELECT r.id FROM ${deliveryJobs} r WHERE r.dedup_key = 'replay:' || ${deliveryJobs.id})` })
          .from(deliveryJobs)
          .where(and(eq(deliveryJobs.tenantId, tenantId), inArray(deliveryJobs.id, part), inArray(deliveryJobs.state, [...DEAD_STATES])))),
      );
    }
    return this.withMessages(out);
  }

  async messageRaw(tenantId: string, messageId: string) {
    const row = await this.db.query.messages.findFirst({ where: and(eq(messages.id, messageId), eq(messages.tenantId, tenantId)), columns: { raw: true } });
    return row?.raw ?? null;
  }

  /** The drafts are the tenant's own (built from its dead letters); their rows carry its id. */
  async replayJobs(_tenantId: string, drafts: ReplayDraft[]): Promise<ReplayOutcome> {
    const outcome: ReplayOutcome = { replayed: [], already: [] };
    const originals = drafts.flatMap((d) => d.jobs.map((j) => j.originalJobId));
    const existing = await this.replaysOf(originals);
    for (const draft of drafts) {
      const fresh = draft.jobs.filter((j) => !existing.has(j.originalJobId));
      for (const j of draft.jobs) if (existing.has(j.originalJobId)) outcome.already.push({ originalJobId: j.originalJobId, jobId: existing.get(j.originalJobId)! });
      if (fresh.length === 0) continue;
      const keep = new Set(fresh.map((j) => j.id));
      const originals = new Set(fresh.map((j) => j.originalJobId));
      // Only the trace of what is written: the new jobs' entries, and `replayed` on their originals.
      const events = draft.events.filter((e) => (e.messageId === draft.message.id ? e.jobId === null || keep.has(e.jobId) : e.jobId !== null && originals.has(e.jobId)));
      try {
        // One transaction per original message: the new message, its jobs and every trace entry.
        await this.db.$client.batch(
          [
            ...messageInserter.statements([draft.message], 1),
            ...jobInserter.statements(fresh.map(({ originalJobId: _o, ...job }) => job), INSERT_CHUNK),
            ...eventStatements(events),
          ],
          'write',
        );
        for (const j of fresh) outcome.replayed.push({ originalJobId: j.originalJobId, jobId: j.id, messageId: draft.message.id });
      } catch (error) {
        // A racing replay of the same original committed first: it sends, this one does not.
        if (!isUniqueViolation(error, 'delivery_jobs')) throw error;
        const won = await this.replaysOf(fresh.map((j) => j.originalJobId));
        for (const j of fresh) outcome.already.push({ originalJobId: j.originalJobId, jobId: won.get(j.originalJobId) ?? null });
      }
    }
    return outcome;
  }

  /** Original job id → the job that replays it. */
  private async replaysOf(originalJobIds: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunks(originalJobIds, 300)) {
      const rows = await this.db
        .select({ id: deliveryJobs.id, dedupKey: deliveryJobs.dedupKey })
        .from(deliveryJobs)
        .where(inArray(deliveryJobs.dedupKey, part.map(replayKeyOf)));
      for (const r of rows) out.set(r.dedupKey.slice('replay:'.length), r.id);
    }
    return out;
  }

  private async withMessages(rows: Array<{ job: typeof deliveryJobs.$inferSelect; replayJobId: string | null }>): Promise<DeadLetterRecord[]> {
    if (rows.length === 0) return [];
    const messageIds = [...new Set(rows.map((r) => r.job.messageId))];
    const [meta, events] = await Promise.all([
      this.db
        .select({
          id: messages.id,
          fromAddress: messages.fromAddress,
          fromDomain: messages.fromDomain,
          subject: messages.subject,
          lane: messages.lane,
          pool: messages.pool,
          sizeBytes: messages.sizeBytes,
          createdAt: messages.createdAt,
          constraints: messages.constraints,
        })
        .from(messages)
        .where(inArray(messages.id, messageIds)),
      this.db.select().from(messageEvents).where(inArray(messageEvents.messageId, messageIds)).orderBy(asc(messageEvents.id)),
    ]);
    const byId = new Map(meta.map((m) => [m.id, m]));
    return rows.flatMap((r) => {
      const message = byId.get(r.job.messageId);
      if (!message) return [];
      const own = events.filter((e) => e.messageId === r.job.messageId && (e.jobId === r.job.id || e.jobId === null));
      return [{ job: r.job, message, replayJobId: r.replayJobId, events: own }];
    });
  }
}
