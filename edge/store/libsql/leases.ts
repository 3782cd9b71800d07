/**
 * The lease side of delivery jobs: nodes and pools, claims, lease upkeep and every state change
 * a result, a hold or an expiry makes. Claims and transitions are single guarded statements, so
 * any number of hubs and edge instances can share the store without leasing a job twice.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { DeliveryJobRecord } from '../../domain/records.ts';
import type { ClaimRequest, ClaimedJob, ExtendedLease, HeldBy, HeldJob, JobTransition, LeaseStore, MessageStore, NodeRegistration, SuppressionStore } from '../../ports/store.ts';
import { deliveryJobs, messages, nodes, pools, sendingDomains } from '../schema.ts';
import { guardedUpdater } from '../rows.ts';
import { chunks, INSERT_CHUNK, type PostlaneDb } from './db.ts';
import { messageEvent } from '../../../shared/events/index.ts';
import { LANES } from '../../../shared/lanes.ts';
import { dkimKeyIdOf } from '../../../shared/protocol.ts';

/** Service order of shared/lanes.ts as SQL: `CASE lane WHEN 'transactional' THEN 0 … ELSE <last> END` (an unknown lane goes last). */
const LANE_ORDER = sql`CASE ${deliveryJobs.lane} ${sql.raw(LANES.slice(0, -1).map((lane, i) => `WHEN '${lane}' THEN ${i}`).join(' '))} ELSE ${sql.raw(String(LANES.length - 1))} END`;

/** Jobs of these pools; of a dedicated pool, only its tenant's (a pool assigned later keeps others' jobs out). */
function poolCondition(names: string[], owners: Record<string, string>) {
  const shared = names.filter((p) => owners[p] === undefined);
  const parts = [
    ...(shared.length ? [sql`pool IN (${sql.join(shared.map((p) => sql`${p}`), sql`, `)})`] : []),
    ...names.filter((p) => owners[p] !== undefined).map((p) => sql`(pool = ${p} AND tenant_id = ${owners[p]})`),
  ];
  return sql`(${sql.join(parts, sql` OR `)})`;
}

/** What a transition writes besides the job: its events, and the suppression of a hard bounce. */
export type TransitionWrites = Pick<MessageStore, 'appendEvents'> & Pick<SuppressionStore, 'recordFeedback'>;

export class LibsqlLeases implements LeaseStore {
  private readonly jobUpdates = guardedUpdater(deliveryJobs, 'id', 'state');

  constructor(
    private readonly db: PostlaneDb,
    private readonly writes: TransitionWrites,
  ) {}

  async upsertNode(n: NodeRegistration) {
    await this.db
      .insert(nodes)
      .values({ id: n.id, region: n.region, version: n.version, ips: n.ips, capacity: n.capacity, connectedAt: n.now, lastSeenAt: n.now })
      .onConflictDoUpdate({
        target: nodes.id,
        set: { region: n.region, version: n.version, ips: n.ips, capacity: n.capacity, connectedAt: n.now, lastSeenAt: n.now },
      });
  }

  async knownPools() {
    return this.db.select({ name: pools.name, tenantId: pools.tenantId }).from(pools);
  }

  async ensurePool(name: string, tenantId: string | null, now: number) {
    await this.db.insert(pools).values({ name, tenantId, createdAt: now }).onConflictDoNothing();
  }

  async claimJobs(req: ClaimRequest): Promise<ClaimedJob[]> {
    if (req.pools.length === 0 || req.limit <= 0) return [];
    const quotas = req.laneQuotas?.length ? req.laneQuotas : [{ lane: '*', limit: req.limit }];
    const exclude = (req.exclude ?? []).map((e) =>
      e.domain ? sql`AND NOT (provider = ${e.provider} AND pool = ${e.pool} AND domain = ${e.domain})` : sql`AND NOT (provider = ${e.provider} AND pool = ${e.pool})`,
    );
    const claimed: DeliveryJobRecord[] = [];
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
            AND ${poolCondition(req.pools, req.poolOwners ?? {})}
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
      .select({ id: messages.id, fromDomain: messages.fromDomain, constraints: messages.constraints, returnPathDomain: sendingDomains.returnPathDomain, dkimDomain: sendingDomains.domain, dkimTenantId: sendingDomains.tenantId, dkimSelector: sendingDomains.dkimSelector })
      .from(messages)
      .leftJoin(sendingDomains, and(eq(sendingDomains.tenantId, messages.tenantId), eq(sendingDomains.domain, messages.fromDomain)))
      .where(inArray(messages.id, messageIds));
    const byId = new Map(meta.map((m) => [m.id, m]));
    return claimed.map((job) => {
      const m = byId.get(job.messageId);
      // The key is the message's own tenant's record of the domain: another tenant may hold the same name.
      const dkimKeyId = m?.dkimDomain && m.dkimTenantId && m.dkimSelector ? dkimKeyIdOf({ tenantId: m.dkimTenantId, domain: m.dkimDomain, selector: m.dkimSelector }) : null;
      return { ...job, returnPathDomain: m?.returnPathDomain ?? m?.fromDomain ?? null, dkimDomain: dkimKeyId ? m!.dkimDomain : null, dkimKeyId, constraints: m?.constraints ?? null };
    });
  }

  async extendLeases(nodeId: string, leaseIds: string[], expiresAt: number): Promise<ExtendedLease[]> {
    const extended: ExtendedLease[] = [];
    for (const part of chunks(leaseIds, 500)) {
      const rows = await this.db
        .update(deliveryJobs)
        .set({ leaseExpiresAt: expiresAt })
        .where(and(eq(deliveryJobs.state, 'leased'), eq(deliveryJobs.leaseOwner, nodeId), inArray(deliveryJobs.leaseId, part)))
        .returning({ leaseId: deliveryJobs.leaseId, leaseExpiresAt: deliveryJobs.leaseExpiresAt });
      for (const r of rows) if (r.leaseId && r.leaseExpiresAt !== null) extended.push({ leaseId: r.leaseId, leaseExpiresAt: r.leaseExpiresAt });
    }
    return extended;
  }

  async jobsByIds(ids: string[]) {
    const out: DeliveryJobRecord[] = [];
    for (const part of chunks(ids, 500)) out.push(...(await this.db.select().from(deliveryJobs).where(inArray(deliveryJobs.id, part))));
    return out;
  }

  async applyTransitions(transitions: JobTransition[]) {
    if (transitions.length === 0) return [];
    // Guarded updates: each applies only if the job is still in an expected state. RETURNING
    // tells which did, and only their events are written (right after, in a second batch).
    const updatedAt = Date.now();
    const statements = this.jobUpdates.statements(
      transitions.map((t) => ({ key: t.jobId, set: { ...t.set, updatedAt }, allowed: t.fromStates, match: t.match })),
      INSERT_CHUNK,
    );
    const results = await this.db.$client.batch(statements, 'write');
    const applied = new Set(results.flatMap((r) => r.rows.map((row) => String(row.key))));
    const events = transitions.filter((t) => applied.has(t.jobId)).flatMap((t) => t.events);
    const suppress = transitions.flatMap((t) => (t.suppress && applied.has(t.jobId) ? [t.suppress] : []));
    if (suppress.length) await this.writes.recordFeedback({ events, suppressions: suppress });
    else await this.writes.appendEvents(events);
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
    await this.writes.appendEvents(held.filter((h) => h.event && applied.has(h.jobId)).map((h) => h.event!));
    return [...applied];
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
          held.tenantId ? eq(deliveryJobs.tenantId, held.tenantId) : undefined,
        ),
      );
    return r.rowsAffected;
  }

  async expireLeases(now: number) {
    // The UPDATE re-checks the expiry itself: guarded by state alone, it would expire a lease a
    // heartbeat extended after the read. The read only names candidates and the lease each held
    // (RETURNING shows the row after the update, with its lease cleared); the statement applies
    // to a row only while it still holds that lease, expired, so the events name exactly it.
    const candidates = await this.db
      .select({ id: deliveryJobs.id, messageId: deliveryJobs.messageId, leaseOwner: deliveryJobs.leaseOwner, leaseId: deliveryJobs.leaseId })
      .from(deliveryJobs)
      .where(and(eq(deliveryJobs.state, 'leased'), sql`${deliveryJobs.leaseExpiresAt} <= ${now}`))
      .limit(5000);
    if (candidates.length === 0) return 0;
    const expired: typeof candidates = [];
    for (const part of chunks(candidates, 300)) {
      const pairs = sql.join(part.map((j) => sql`(${j.id}, ${j.leaseId})`), sql`, `);
      const rows = await this.db.all<{ id: string }>(sql`
        UPDATE delivery_jobs SET state = 'queued', lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL,
          next_attempt_at = ${now}, updated_at = ${Date.now()}
        WHERE state = 'leased' AND lease_expires_at <= ${now} AND (id, lease_id) IN (VALUES ${pairs})
        RETURNING id`);
      const applied = new Set(rows.map((r) => r.id));
      expired.push(...part.filter((j) => applied.has(j.id)));
    }
    await this.writes.appendEvents(
      expired.map((job) =>
        messageEvent('lease_expired', {
          messageId: job.messageId,
          jobId: job.id,
          at: now,
          data: { node: job.leaseOwner, lease_id: job.leaseId, reason: 'no result before the lease TTL; returned to the queue' },
        }),
      ),
    );
    return expired.length;
  }

  async releaseLeases(nodeId: string, leases: Array<{ jobId: string; leaseId: string }>, nextAttemptAt: number, reason: string, now: number) {
    const released: Array<{ id: string; messageId: string; leaseId: string }> = [];
    for (const part of chunks(leases, 300)) {
      const pairs = sql.join(part.map((l) => sql`(${l.jobId}, ${l.leaseId})`), sql`, `);
      // The claim counted an attempt; a lease given back unstarted was none.
      const rows = await this.db.all<{ id: string; message_id: string }>(sql`
        UPDATE delivery_jobs SET state = 'queued', lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL,
          attempts = MAX(attempts - 1, 0), next_attempt_at = ${nextAttemptAt}, updated_at = ${Date.now()}
        WHERE state = 'leased' AND lease_owner = ${nodeId} AND (id, lease_id) IN (VALUES ${pairs})
        RETURNING id, message_id`);
      const leaseOf = new Map(part.map((l) => [l.jobId, l.leaseId]));
      released.push(...rows.map((r) => ({ id: r.id, messageId: r.message_id, leaseId: leaseOf.get(r.id)! })));
    }
    await this.writes.appendEvents(
      released.map((job) =>
        messageEvent('lease_released', {
          messageId: job.messageId,
          jobId: job.id,
          at: now,
          data: { node: nodeId, lease_id: job.leaseId, reason, next_attempt_at: new Date(nextAttemptAt).toISOString() },
        }),
      ),
    );
    return released.map((j) => j.id);
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
}

/** RETURNING * hands back column names; map them onto the record's shape. */
function jobFromRaw(r: Record<string, unknown>): DeliveryJobRecord {
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
