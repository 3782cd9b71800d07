/**
 * The Store port over libSQL with drizzle: one implementation for the embedded file, sqld and
 * Turso. The caller hands in the drizzle database (Node: `drizzle-orm/libsql/node`, Workers:
 * `drizzle-orm/libsql/web`). Multi-statement writes use `batch`, which libSQL runs as one
 * transaction in one round trip on every transport.
 */
import { and, asc, desc, eq, gte, inArray, sql, type SQL } from 'drizzle-orm';
import type { LibSQLDatabase } from 'drizzle-orm/libsql/driver-core';
import type { BatchItem } from 'drizzle-orm/batch';
import * as schema from './schema.ts';
import type {
  AcceptOutcome,
  ClaimRequest,
  ClaimedJob,
  HeldBy,
  HeldJob,
  IdempotencyClaim,
  JobTransition,
  NewMessage,
  NewSuppression,
  Store,
  WarmupStateUpdate,
  SuppressionQuery,
} from '../ports.ts';
import type { DeliveryJobRow, MessageEventRow } from './schema.ts';
import type { MessageListQuery } from '../../shared/api.ts';
import type { Client, InStatement, InValue } from '@libsql/client';
import { guardedUpdater, rowInserter } from './rows.ts';

const { apiKeys, deliveryJobs, idempotencyKeys, messageEvents, messages, nodeTokens, nodes, policyEvents, pools, sendingDomains, tenantPolicies } = schema;

/** The drizzle database with its libSQL client: the hot write path talks to the client directly. */
export type PostlaneDb = LibSQLDatabase<typeof schema> & { $client: Client };

interface PendingAccept {
  tenantId: string;
  items: NewMessage[];
  idem: IdempotencyClaim | null;
  resolve(outcome: AcceptOutcome): void;
  reject(error: unknown): void;
}

/** Requests per group commit: bounds one transaction's size and the wait behind it. */
const GROUP_COMMIT_MAX = 64;

/** Rows per INSERT statement, well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 200;

function chunks<T>(items: T[], size = INSERT_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function isUniqueViolation(error: unknown, table: string): boolean {
  // libSQL wraps SQLite's "UNIQUE constraint failed: <table>.<col>" (or PRIMARY KEY) in its
  // own error and drizzle wraps that again; search the whole cause chain.
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++) {
    const msg = String((e as Error).message ?? '');
    if (/constraint failed/i.test(msg) && msg.includes(`${table}.`)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Once the pending promise continuations have run: Node's nextTick; elsewhere a zero timer. */
const afterMicrotasks = (): Promise<void> =>
  new Promise((resolve) => {
    const tick = (globalThis as { process?: { nextTick?: (f: () => void) => void } }).process?.nextTick;
    if (tick) tick(resolve);
    else setTimeout(resolve, 0);
  });

/** Node's setImmediate where it exists; elsewhere a zero timer. */
const nextMacrotask = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

const LANE_ORDER = sql`CASE ${deliveryJobs.lane} WHEN 'transactional' THEN 0 WHEN 'lifecycle' THEN 1 ELSE 2 END`;

export interface LibsqlStoreOptions {
  /**
   * Share one transaction among concurrent accepts, and one query among concurrent suppression
   * lookups (default on). Off on Workers: there a promise settled by another request's I/O is
   * not allowed to wake this request.
   */
  groupCommit?: boolean;
}

export class LibsqlStore implements Store {
  private readonly groupCommit: boolean;
  constructor(
    readonly db: PostlaneDb,
    options: LibsqlStoreOptions = {},
  ) {
    this.groupCommit = options.groupCommit ?? true;
  }

  async ping() {
    await this.db.run(sql`SELECT 1`);
  }

  async findApiKey(keyHash: string) {
    const row = await this.db.query.apiKeys.findFirst({ where: eq(apiKeys.keyHash, keyHash) });
    if (!row || row.revokedAt) return null;
    return { keyId: row.id, tenantId: row.tenantId, scopes: row.scopes };
  }

  async createTenant(tenant: { id: string; name: string; now: number }, key: { id: string; keyHash: string; prefix: string; scopes: string[] }) {
    await this.db.batch([
      this.db.insert(schema.tenants).values({ id: tenant.id, name: tenant.name, createdAt: tenant.now }),
      this.db.insert(apiKeys).values({ ...key, tenantId: tenant.id, name: 'initial', createdAt: tenant.now }),
    ]);
  }

  async findNodeToken(tokenHash: string) {
    const row = await this.db.query.nodeTokens.findFirst({ where: eq(nodeTokens.tokenHash, tokenHash) });
    if (!row || row.revokedAt) return null;
    return { id: row.id, region: row.region, allowedIps: row.allowedIps };
  }

  async createNodeToken(input: { id: string; tokenHash: string; region: string; allowedIps: string[]; name?: string | null; now: number }) {
    await this.db.insert(nodeTokens).values({
      id: input.id,
      tokenHash: input.tokenHash,
      region: input.region,
      allowedIps: input.allowedIps,
      name: input.name ?? null,
      createdAt: input.now,
    });
  }

  /**
   * Group commit: accepts that arrive while a commit is in flight, or are released together by
   * one suppression lookup, share the next transaction, so concurrent requests cost one commit instead of
   * one each. A group that fails (typically one request's idempotency key already taken) is
   * retried request by request, so each caller gets its own outcome and no request's rows
   * depend on another's.
   */
  acceptMessages(tenantId: string, items: NewMessage[], idem: IdempotencyClaim | null): Promise<AcceptOutcome> {
    if (!this.groupCommit) return this.acceptOne({ tenantId, items, idem, resolve: () => {}, reject: () => {} });
    return new Promise((resolve, reject) => {
      this.pendingAccepts.push({ tenantId, items, idem, resolve, reject });
      if (!this.committing) void this.commitPending();
    });
  }

  private pendingAccepts: PendingAccept[] = [];
  private committing = false;
  private readonly inserts = {
    messages: rowInserter(messages),
    jobs: rowInserter(deliveryJobs),
    events: rowInserter(messageEvents),
    idempotencyKeys: rowInserter(idempotencyKeys),
  };
  private readonly jobUpdates = guardedUpdater(deliveryJobs, 'id', 'state');

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
      ...this.inserts.events.statements(items.flatMap((i) => i.events), INSERT_CHUNK),
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
    const jobFilter: SQL[] = [sql`j.message_id = ${messages.id}`];
    if (q.status) jobFilter.push(sql`j.state = ${q.status}`);
    if (q.domain) jobFilter.push(sql`j.domain = ${q.domain.toLowerCase()}`);
    if (q.provider) jobFilter.push(sql`j.provider = ${q.provider}`);
    const where: SQL[] = [eq(messages.tenantId, tenantId)];
    if (q.lane) where.push(eq(messages.lane, q.lane));
    if (q.since) where.push(gte(messages.createdAt, Date.parse(q.since)));
    if (q.status || q.domain || q.provider) {
      where.push(sql`EXISTS (SELECT 1 FROM ${deliveryJobs} j WHERE ${sql.join(jobFilter, sql` AND `)})`);
    }
    const rows = await this.db
      .select({
        message: messages,
        recipients: sql<number>`(SELECT count(*) FROM ${deliveryJobs} j WHERE j.message_id = ${messages.id})`,
        states: sql<string>`(SELECT group_concat(DISTINCT j.state) FROM ${deliveryJobs} j WHERE j.message_id = ${messages.id})`,
      })
      .from(messages)
      .where(and(...where))
      .orderBy(desc(messages.createdAt))
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

  async knownPools() {
    return this.db.select({ name: pools.name, tenantId: pools.tenantId }).from(pools);
  }

  async ensurePool(name: string, tenantId: string | null, now: number) {
    await this.db.insert(pools).values({ name, tenantId, createdAt: now }).onConflictDoNothing();
  }

  async createDomain(row: schema.SendingDomainRow) {
    const result = await this.db.insert(sendingDomains).values(row).onConflictDoNothing();
    return result.rowsAffected === 1 ? ('created' as const) : ('exists' as const);
  }

  async listDomains(tenantId: string) {
    return this.db.select().from(sendingDomains).where(eq(sendingDomains.tenantId, tenantId)).orderBy(asc(sendingDomains.domain));
  }

  async findDomain(tenantId: string, domain: string) {
    return (
      (await this.db.query.sendingDomains.findFirst({
        where: and(eq(sendingDomains.tenantId, tenantId), eq(sendingDomains.domain, domain)),
      })) ?? null
    );
  }

  async signingKeys(wanted: Array<{ tenantId: string; domain: string }>) {
    if (wanted.length === 0) return [];
    const rows = await this.db
      .select()
      .from(sendingDomains)
      .where(inArray(sendingDomains.domain, [...new Set(wanted.map((w) => w.domain))]));
    const keys = new Set(wanted.map((w) => `${w.tenantId}\n${w.domain}`));
    return rows
      .filter((r) => keys.has(`${r.tenantId}\n${r.domain}`))
      .map((r) => ({
        tenantId: r.tenantId,
        domain: r.domain,
        selector: r.dkimSelector,
        algorithm: r.dkimAlgorithm as 'rsa-sha256' | 'ed25519-sha256',
        privateKeyEnc: r.dkimPrivateKeyEnc,
      }));
  }

  async upsertNode(n: { id: string; region: string; version: string; ips: Array<{ address: string; pool: string; ehlo: string }>; capacity: number; now: number }) {
    await this.db
      .insert(nodes)
      .values({ id: n.id, region: n.region, version: n.version, ips: n.ips, capacity: n.capacity, connectedAt: n.now, lastSeenAt: n.now })
      .onConflictDoUpdate({
        target: nodes.id,
        set: { region: n.region, version: n.version, ips: n.ips, capacity: n.capacity, connectedAt: n.now, lastSeenAt: n.now },
      });
  }

  async claimJobs(req: ClaimRequest): Promise<ClaimedJob[]> {
    if (req.pools.length === 0 || req.limit <= 0) return [];
    const quotas = req.laneQuotas?.length ? req.laneQuotas : [{ lane: '*', limit: req.limit }];
    const exclude = (req.exclude ?? []).map((e) =>
      e.domain ? sql`AND NOT (provider = ${e.provider} AND pool = ${e.pool} AND domain = ${e.domain})` : sql`AND NOT (provider = ${e.provider} AND pool = ${e.pool})`,
    );
    const claimed: DeliveryJobRow[] = [];
    const expiresAt = req.now + req.leaseTtlMs;
    for (const quota of quotas) {
      const limit = Math.min(quota.limit, req.limit - claimed.length);
      if (limit <= 0) continue;
      const leaseId = `${req.nodeId}:${req.now}`;
      // One statement: select ready jobs and mark them leased. SQLite runs it under the write
      // lock, so two hubs (or edge instances) can never claim the same job.
      const rows = await this.db.all<Record<string, unknown>>(sql`
        UPDATE ${deliveryJobs}
        SET state = 'leased', lease_id = ${leaseId} || ':' || id, lease_owner = ${req.nodeId},
            lease_expires_at = ${expiresAt}, attempts = attempts + 1, updated_at = ${req.now}
        WHERE id IN (
          SELECT id FROM ${deliveryJobs}
          WHERE state = 'queued' AND next_attempt_at <= ${req.now}
            AND (region IS NULL OR region = ${req.region})
            AND pool IN (${sql.join(req.pools.map((p) => sql`${p}`), sql`, `)})
            ${quota.lane === '*' ? sql`` : sql`AND lane = ${quota.lane}`}
            ${'tenantId' in quota && quota.tenantId ? sql`AND tenant_id = ${quota.tenantId}` : sql``}
            ${sql.join(exclude, sql` `)}
          ORDER BY ${quota.lane === '*' ? sql`${LANE_ORDER}, ` : sql``}next_attempt_at
          LIMIT ${limit}
        )
        RETURNING *`);
      claimed.push(...rows.map(jobFromRaw));
    }
    if (claimed.length === 0) return [];
    const messageIds = [...new Set(claimed.map((j) => j.messageId))];
    const meta = await this.db
      .select({ id: messages.id, fromDomain: messages.fromDomain, constraints: messages.constraints, returnPathDomain: sendingDomains.returnPathDomain, dkimDomain: sendingDomains.domain })
      .from(messages)
      .leftJoin(sendingDomains, and(eq(sendingDomains.tenantId, messages.tenantId), eq(sendingDomains.domain, messages.fromDomain)))
      .where(inArray(messages.id, messageIds));
    const byId = new Map(meta.map((m) => [m.id, m]));
    return claimed.map((job) => {
      const m = byId.get(job.messageId);
      return { ...job, returnPathDomain: m?.returnPathDomain ?? m?.fromDomain ?? null, dkimDomain: m?.dkimDomain ?? null, constraints: m?.constraints ?? null };
    });
  }

  async messageBodies(ids: string[]) {
    if (ids.length === 0) return [];
    return this.db.select({ id: messages.id, raw: messages.raw }).from(messages).where(inArray(messages.id, ids));
  }

  async extendLeases(nodeId: string, leaseIds: string[], expiresAt: number) {
    for (const part of chunks(leaseIds, 500)) {
      await this.db
        .update(deliveryJobs)
        .set({ leaseExpiresAt: expiresAt })
        .where(and(eq(deliveryJobs.state, 'leased'), eq(deliveryJobs.leaseOwner, nodeId), inArray(deliveryJobs.leaseId, part)));
    }
  }

  async jobsByIds(ids: string[]) {
    const out: DeliveryJobRow[] = [];
    for (const part of chunks(ids, 500)) out.push(...(await this.db.select().from(deliveryJobs).where(inArray(deliveryJobs.id, part))));
    return out;
  }

  async applyTransitions(transitions: JobTransition[]) {
    if (transitions.length === 0) return [];
    // Guarded updates: each applies only if the job is still in an expected state. RETURNING
    // tells which did, and only their events are written (right after, in a second batch).
    const updatedAt = Date.now();
    const statements = this.jobUpdates.statements(
      transitions.map((t) => ({ key: t.jobId, set: { ...t.set, updatedAt }, allowed: t.fromStates })),
      INSERT_CHUNK,
    );
    const results = await this.db.$client.batch(statements, 'write');
    const applied = new Set(results.flatMap((r) => r.rows.map((row) => String(row.key))));
    const events = transitions.filter((t) => applied.has(t.jobId)).flatMap((t) => t.events);
    const suppress = transitions.flatMap((t) => (t.suppress && applied.has(t.jobId) ? [t.suppress] : []));
    if (suppress.length) await this.recordFeedback({ events, suppressions: suppress });
    else await this.appendEvents(events);
    return [...applied];
  }

  async requeueHeld(held: HeldJob[], now: number) {
    if (held.length === 0) return [];
    // One UPDATE per chunk instead of one per job: a claim can hand back most of what it took
    // when budgets are tight, and this is the hub's hottest write then.
    const applied = new Set<string>();
    for (const part of chunks(held, 300)) {
      const nextAt = sql.join(part.map((h) => sql`WHEN ${h.jobId} THEN ${h.nextAttemptAt}`), sql` `);
      const cls = sql.join(part.map((h) => sql`WHEN ${h.jobId} THEN ${h.lastClass}`), sql` `);
      const ids = sql.join(part.map((h) => sql`${h.jobId}`), sql`, `);
      const rows = await this.db.all<{ id: string }>(sql`
        UPDATE delivery_jobs SET state = 'queued', attempts = max(0, attempts - 1),
          next_attempt_at = CASE id ${nextAt} END, last_class = CASE id ${cls} END,
          lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}
        WHERE state = 'leased' AND id IN (${ids}) RETURNING id`);
      for (const r of rows) applied.add(r.id);
    }
    await this.appendEvents(held.filter((h) => h.event && applied.has(h.jobId)).map((h) => h.event!));
    return [...applied];
  }

  async expireLeases(now: number) {
    const expired = await this.db
      .select({ id: deliveryJobs.id, messageId: deliveryJobs.messageId, leaseOwner: deliveryJobs.leaseOwner, leaseId: deliveryJobs.leaseId })
      .from(deliveryJobs)
      .where(and(eq(deliveryJobs.state, 'leased'), sql`${deliveryJobs.leaseExpiresAt} < ${now}`))
      .limit(5000);
    if (expired.length === 0) return 0;
    const applied = await this.applyTransitions(
      expired.map((job) => ({
        jobId: job.id,
        fromStates: ['leased'],
        set: { state: 'queued', leaseId: null, leaseOwner: null, leaseExpiresAt: null, nextAttemptAt: now },
        events: [
          {
            messageId: job.messageId,
            jobId: job.id,
            type: 'lease_expired',
            at: now,
            data: { node: job.leaseOwner, lease_id: job.leaseId, reason: 'no result before the lease TTL; returned to the queue' },
          },
        ],
      })),
    );
    return applied.length;
  }

  async readyJobsOutside(regions: string[], now: number, limit: number) {
    return this.db
      .select()
      .from(deliveryJobs)
      .where(
        and(
          eq(deliveryJobs.state, 'queued'),
          sql`${deliveryJobs.nextAttemptAt} <= ${now}`,
          sql`${deliveryJobs.region} IS NOT NULL`,
          regions.length ? sql`${deliveryJobs.region} NOT IN (${sql.join(regions.map((r) => sql`${r}`), sql`, `)})` : undefined,
        ),
      )
      .limit(limit);
  }

  async appendEvents(events: Omit<MessageEventRow, 'id'>[]) {
    if (events.length === 0) return;
    await this.db.$client.batch(this.inserts.events.statements(events, INSERT_CHUNK), 'write');
  }

  async getTenantPolicy(tenantId: string) {
    const row = await this.db.query.tenantPolicies.findFirst({ where: eq(tenantPolicies.tenantId, tenantId) });
    return row ? { document: row.document, version: row.version, updatedAt: row.updatedAt } : null;
  }

  async putTenantPolicy(tenantId: string, document: Record<string, unknown>, updatedBy: string, now: number) {
    const [row] = await this.db
      .insert(tenantPolicies)
      .values({ tenantId, document, version: 1, updatedAt: now, updatedBy })
      .onConflictDoUpdate({ target: tenantPolicies.tenantId, set: { document, version: sql`${tenantPolicies.version} + 1`, updatedAt: now, updatedBy } })
      .returning({ version: tenantPolicies.version });
    return row.version;
  }

  async countJobsSince(tenantId: string, lane: string, since: number) {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)` })
      .from(deliveryJobs)
      // Suppressed recipients were never queued: they count against no cap.
      .where(and(eq(deliveryJobs.tenantId, tenantId), eq(deliveryJobs.lane, lane), gte(deliveryJobs.createdAt, since), sql`${deliveryJobs.state} <> 'suppressed'`));
    return Number(row?.n ?? 0);
  }

  async appendPolicyEvents(events: Omit<schema.PolicyEventRow, 'id'>[]) {
    if (events.length === 0) return;
    await this.db.insert(policyEvents).values(events);
  }

  async listPolicyEvents(since: number, limit: number) {
    return this.db.select().from(policyEvents).where(gte(policyEvents.at, since)).orderBy(desc(policyEvents.id)).limit(limit);
  }

  // --- Warm-ups ------------------------------------------------------------------------------

  async createWarmup(row: schema.WarmupRow) {
    try {
      await this.db.insert(schema.warmups).values(row);
      return 'created' as const;
    } catch (error) {
      // The partial unique index on (scope, key) WHERE status = 'active'.
      if (isUniqueViolation(error, 'warmups')) return 'exists' as const;
      throw error;
    }
  }

  async getWarmup(id: string) {
    return (await this.db.query.warmups.findFirst({ where: eq(schema.warmups.id, id) })) ?? null;
  }

  async listWarmups(filter: { status?: string; scope?: string; key?: string } = {}) {
    const w = schema.warmups;
    return this.db
      .select()
      .from(w)
      .where(and(filter.status ? eq(w.status, filter.status) : undefined, filter.scope ? eq(w.scope, filter.scope) : undefined, filter.key ? eq(w.key, filter.key) : undefined))
      .orderBy(desc(w.startedAt))
      .limit(500);
  }

  async saveWarmupStates(updates: WarmupStateUpdate[]) {
    if (updates.length === 0) return;
    const w = schema.warmups;
    const statements = updates.map((u) =>
      this.db
        .update(w)
        .set({ dayStart: u.dayStart, providers: u.providers, updatedAt: u.now, ...(u.status === 'complete' ? { status: 'complete', endedAt: u.now } : {}) })
        .where(and(eq(w.id, u.id), eq(w.status, 'active'))),
    );
    await this.db.batch(statements as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  }

  async endWarmup(id: string, status: 'stopped' | 'complete', now: number) {
    const w = schema.warmups;
    const r = await this.db.update(w).set({ status, endedAt: now, updatedAt: now }).where(and(eq(w.id, id), eq(w.status, 'active')));
    return r.rowsAffected === 1;
  }

  async releaseHeld(held: HeldBy, now: number) {
    const r = await this.db
      .update(deliveryJobs)
      .set({ nextAttemptAt: now, updatedAt: now })
      .where(
        and(
          eq(deliveryJobs.state, 'queued'),
          eq(deliveryJobs.lastClass, held.lastClass),
          sql`${deliveryJobs.nextAttemptAt} > ${now}`,
          held.pool ? eq(deliveryJobs.pool, held.pool) : undefined,
          held.senderDomain ? eq(deliveryJobs.senderDomain, held.senderDomain) : undefined,
        ),
      );
    return r.rowsAffected;
  }

  async listPolicyEventsFor(scope: string, key: string, limit: number) {
    return this.db.select().from(policyEvents).where(and(eq(policyEvents.scope, scope), eq(policyEvents.key, key))).orderBy(desc(policyEvents.id)).limit(limit);
  }
  // -------------------------------------------------------------------------------------------
  // Feedback and suppression (SPEC §5)

  async addSuppressions(rows: NewSuppression[]) {
    if (rows.length === 0) return [];
    const added: string[] = [];
    for (const part of chunks(rows)) {
      const out = await this.db.insert(schema.suppressions).values(part).onConflictDoNothing().returning({ address: schema.suppressions.address });
      added.push(...out.map((r) => r.address));
    }
    return added;
  }

  /**
   * Checked on every accept, so concurrent lookups (Node) share one query per tenant: the
   * lookups of one event-loop turn are answered together on the next. Nothing is cached, so
   * a suppression added a moment ago applies to the next request.
   */
  findSuppressions(tenantId: string, addresses: string[]): Promise<schema.SuppressionRow[]> {
    if (!this.groupCommit) return this.querySuppressions(tenantId, addresses);
    return new Promise((resolve, reject) => {
      this.pendingLookups.push({ tenantId, addresses, resolve, reject });
      if (this.pendingLookups.length === 1) void nextMacrotask().then(() => this.lookupPending());
    });
  }

  private pendingLookups: Array<{ tenantId: string; addresses: string[]; resolve(rows: schema.SuppressionRow[]): void; reject(error: unknown): void }> = [];

  private async lookupPending() {
    const lookups = this.pendingLookups.splice(0);
    const byTenant = new Map<string, typeof lookups>();
    for (const l of lookups) byTenant.set(l.tenantId, [...(byTenant.get(l.tenantId) ?? []), l]);
    for (const [tenantId, group] of byTenant) {
      try {
        const rows = await this.querySuppressions(tenantId, group.flatMap((l) => l.addresses));
        const byAddress = new Map(rows.map((r) => [r.address, r]));
        for (const l of group) l.resolve([...new Set(l.addresses)].flatMap((a) => byAddress.get(a) ?? []));
      } catch (error) {
        for (const l of group) l.reject(error);
      }
    }
  }

  private async querySuppressions(tenantId: string, addresses: string[]) {
    const { suppressions } = schema;
    const out: schema.SuppressionRow[] = [];
    for (const part of chunks([...new Set(addresses)], 500)) {
      out.push(...(await this.db.select().from(suppressions).where(and(eq(suppressions.tenantId, tenantId), inArray(suppressions.address, part)))));
    }
    return out;
  }

  async listSuppressions(tenantId: string, q: SuppressionQuery) {
    const { suppressions } = schema;
    const where: SQL[] = [eq(suppressions.tenantId, tenantId)];
    if (q.reason) where.push(eq(suppressions.reason, q.reason));
    // instr, not LIKE: the caller's text has no wildcards to escape.
    if (q.contains) where.push(sql`instr(${suppressions.address}, ${q.contains.toLowerCase()}) > 0`);
    if (q.before !== undefined) where.push(sql`${suppressions.id} < ${q.before}`);
    return this.db.select().from(suppressions).where(and(...where)).orderBy(desc(suppressions.id)).limit(q.limit);
  }

  async deleteSuppression(tenantId: string, address: string) {
    const { suppressions } = schema;
    const out = await this.db.delete(suppressions).where(and(eq(suppressions.tenantId, tenantId), eq(suppressions.address, address.toLowerCase()))).returning({ id: suppressions.id });
    return out.length > 0;
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

  async recordFeedback(input: { events: Omit<MessageEventRow, 'id'>[]; suppressions: NewSuppression[] }) {
    const statements: InStatement[] = this.inserts.events.statements(input.events, INSERT_CHUNK);
    const inserts = chunks(input.suppressions).map((part) => {
      const q = this.db.insert(schema.suppressions).values(part).onConflictDoNothing().returning({ address: schema.suppressions.address }).toSQL();
      return { sql: q.sql, args: q.params as InValue[] };
    });
    statements.push(...inserts);
    if (statements.length === 0) return [];
    const results = await this.db.$client.batch(statements, 'write');
    return results.slice(results.length - inserts.length).flatMap((r) => r.rows.map((row) => String(row.address)));
  }

  async jobEvents(messageId: string, jobId: string, types: string[]) {
    // By message first: message_events is indexed on (message_id, id).
    return this.db
      .select()
      .from(messageEvents)
      .where(and(eq(messageEvents.messageId, messageId), eq(messageEvents.jobId, jobId), inArray(messageEvents.type, types)))
      .orderBy(asc(messageEvents.id));
  }

  async latestPolicyEvent(scope: string, keys: string[]) {
    if (keys.length === 0) return null;
    const [row] = await this.db
      .select()
      .from(policyEvents)
      .where(and(eq(policyEvents.scope, scope), inArray(policyEvents.key, keys)))
      .orderBy(desc(policyEvents.at), desc(policyEvents.id))
      .limit(1);
    return row ?? null;
  }
}

/** RETURNING * hands back column names; map them onto the drizzle row shape. */
function jobFromRaw(r: Record<string, unknown>): DeliveryJobRow {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(r.id),
    messageId: String(r.message_id),
    tenantId: String(r.tenant_id),
    recipient: String(r.recipient),
    recipientKind: String(r.recipient_kind),
    domain: String(r.domain),
    senderDomain: String(r.sender_domain),
    provider: String(r.provider),
    pool: String(r.pool),
    lane: String(r.lane),
    region: (r.region as string | null) ?? null,
    dedupKey: String(r.dedup_key),
    state: String(r.state),
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    leaseId: (r.lease_id as string | null) ?? null,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: num(r.lease_expires_at),
    lastReply: (r.last_reply as string | null) ?? null,
    lastClass: (r.last_class as string | null) ?? null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    finishedAt: num(r.finished_at),
  };
}

/** A message's status from its jobs' states: in flight while any job is, else the worst end. */
export function messageStatus(states: string[]): string {
  const s = new Set(states.filter(Boolean));
  if (s.size === 0) return 'queued';
  if (s.has('leased')) return 'sending';
  if (s.has('queued')) return s.size === 1 ? 'queued' : 'sending';
  if (s.size === 1) return [...s][0];
  return 'partially_delivered';
}
