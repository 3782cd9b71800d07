/** Messages with their jobs and trace: accepted through the group commit, read for the API and feedback. */
import { and, asc, desc, eq, gte, inArray, sql, type SQL } from 'drizzle-orm';
import type { MessageListQuery } from '../../../shared/api.ts';
import { messageStatus } from '../../domain/message-status.ts';
import type { IdempotencyClaim, MessageStore, NewMessage, NewMessageEvent } from '../../ports/store.ts';
import { deliveryJobs, idempotencyKeys, messageEvents, messages } from '../schema.ts';
import { eventStatements, type PostlaneDb } from './db.ts';
import { AcceptGroupCommit } from './group-commit.ts';
import { rollupStatements } from './rollups.ts';

export class LibsqlMessages implements MessageStore {
  private readonly accepts: AcceptGroupCommit;

  constructor(
    private readonly db: PostlaneDb,
    groupCommit: boolean,
  ) {
    this.accepts = new AcceptGroupCommit(db, groupCommit);
  }

  acceptMessages(tenantId: string, items: NewMessage[], idem: IdempotencyClaim | null) {
    return this.accepts.accept(tenantId, items, idem);
  }

  async findIdempotent(tenantId: string, key: string) {
    const row = await this.db.query.idempotencyKeys.findFirst({ where: and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, key)) });
    return row ? { requestHash: row.requestHash, status: row.status, response: row.response, createdAt: row.createdAt } : null;
  }

  async getMessage(tenantId: string, id: string) {
    const message = await this.db.query.messages.findFirst({ where: and(eq(messages.id, id), eq(messages.tenantId, tenantId)) });
    if (!message) return null;
    const [jobs, events] = await Promise.all([
      this.db.select().from(deliveryJobs).where(eq(deliveryJobs.messageId, id)).orderBy(asc(deliveryJobs.recipient)),
      this.db.select().from(messageEvents).where(eq(messageEvents.messageId, id)).orderBy(asc(messageEvents.id)),
    ]);
    return { message, jobs, events };
  }

  async listMessages(tenantId: string, q: MessageListQuery) {
    // Qualified by hand: inside `FROM delivery_jobs j` drizzle's bare "id" would read as j.id.
    const messageId = sql.raw('"messages"."id"');
    const jobFilter: SQL[] = [sql`j.message_id = ${messageId}`];
    if (q.status) jobFilter.push(sql`j.state = ${q.status}`);
    if (q.domain) jobFilter.push(sql`j.domain = ${q.domain.toLowerCase()}`);
    if (q.provider) jobFilter.push(sql`j.provider = ${q.provider}`);
    const where: SQL[] = [eq(messages.tenantId, tenantId)];
    if (q.lane) where.push(eq(messages.lane, q.lane));
    if (q.since) where.push(gte(messages.createdAt, Date.parse(q.since)));
    if (q.cursor) {
      // Keyset paging: rows after the cursor's (created_at, id) in the list's order.
      where.push(sql`(${messages.createdAt}, ${messageId}) < (SELECT m2.created_at, m2.id FROM ${messages} m2 WHERE m2.id = ${q.cursor} AND m2.tenant_id = ${tenantId})`);
    }
    if (q.status || q.domain || q.provider) {
      where.push(sql`EXISTS (SELECT 1 FROM ${deliveryJobs} j WHERE ${sql.join(jobFilter, sql` AND `)})`);
    }
    const rows = await this.db
      .select({
        message: messages,
        recipients: sql<number>`(SELECT count(*) FROM ${deliveryJobs} j WHERE j.message_id = ${messageId})`,
        states: sql<string>`(SELECT group_concat(DISTINCT j.state) FROM ${deliveryJobs} j WHERE j.message_id = ${messageId})`,
      })
      .from(messages)
      .where(and(...where))
      .orderBy(desc(messages.createdAt), desc(messages.id))
      .limit(q.limit);
    return rows.map((r) => ({ ...r.message, recipients: Number(r.recipients), status: messageStatus((r.states ?? '').split(',')) }));
  }

  async backlog(tenantId: string | null) {
    const rows = await this.db
      .select({ lane: deliveryJobs.lane, tenantId: deliveryJobs.tenantId, queued: sql<number>`count(*)` })
      .from(deliveryJobs)
      .where(and(inArray(deliveryJobs.state, ['queued', 'leased']), tenantId ? eq(deliveryJobs.tenantId, tenantId) : undefined))
      .groupBy(deliveryJobs.lane, deliveryJobs.tenantId);
    return rows.map((r) => ({ ...r, queued: Number(r.queued) }));
  }

  async countJobsSince(tenantId: string, lane: string, since: number) {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)` })
      .from(deliveryJobs)
      // Suppressed recipients were never queued: they count against no cap.
      .where(and(eq(deliveryJobs.tenantId, tenantId), eq(deliveryJobs.lane, lane), gte(deliveryJobs.createdAt, since), sql`${deliveryJobs.state} <> 'suppressed'`));
    return Number(row?.n ?? 0);
  }

  async messageBodies(ids: string[]) {
    if (ids.length === 0) return [];
    return this.db.select({ id: messages.id, raw: messages.raw }).from(messages).where(inArray(messages.id, ids));
  }

  async appendEvents(events: NewMessageEvent[]) {
    if (events.length === 0) return;
    // The rollups move in the events' own transaction (edge/stats/rollup.ts).
    await this.db.$client.batch([...eventStatements(events), ...(await rollupStatements(this.db, events))], 'write');
  }

  async jobEvents(messageId: string, jobId: string, types: string[]) {
    // By message first: message_events is indexed on (message_id, id).
    return this.db
      .select()
      .from(messageEvents)
      .where(and(eq(messageEvents.messageId, messageId), eq(messageEvents.jobId, jobId), inArray(messageEvents.type, types)))
      .orderBy(asc(messageEvents.id));
  }

  async findMessageJobs(messageId: string) {
    const message = await this.db.query.messages.findFirst({
      where: eq(messages.id, messageId),
      columns: { id: true, tenantId: true, messageIdHeader: true, lane: true, fromDomain: true },
    });
    if (!message) return null;
    const jobs = await this.db.select().from(deliveryJobs).where(eq(deliveryJobs.messageId, messageId));
    return { message, jobs };
  }
}
