/**
 * One contract for the Store port, run against every store the entries bind: what the app and
 * the hub rely on (atomic accepts with idempotent replays, a job never leased twice, guarded
 * transitions, cursors) stated once, so a second transport or a new implementation is held to
 * the same answers. Each case makes its own tenant and pool (store-fixtures.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IdempotencyClaim, NewSuppression, Store, SuppressionReason } from '../../edge/ports/store.ts';
import type { WarmupProviderState } from '../../edge/domain/records.ts';
import { newMessage, newTenant, newWarmup, unique } from './store-fixtures.ts';

const DAY = 24 * 3600_000;

export interface OpenedStore {
  store: Store;
  /** Closes the client and removes what `open` made. */
  close(): Promise<void>;
}

export function storeContract(name: string, open: () => Promise<OpenedStore>) {
  describe(`Store contract: ${name}`, () => {
    let opened: OpenedStore | undefined;
    let store: Store;
    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => {
      await opened?.close();
    });

    test('tenants, API keys and node tokens are found by hash; unknown hashes are not', async () => {
      const { tenantId, keyId, keyHash } = await newTenant(store, ['admin', 'send']);
      assert.deepEqual(await store.findApiKey(keyHash), { keyId, tenantId, scopes: ['admin', 'send'], name: 'initial', expiresAt: null });
      assert.equal(await store.findApiKey('0'.repeat(64)), null);
      const byId = await store.findApiKeyById(keyId);
      assert.deepEqual(byId && { keyId: byId.keyId, tenantId: byId.tenantId, scopes: byId.scopes }, { keyId, tenantId, scopes: ['admin', 'send'] });
      assert.equal(await store.findApiKeyById(unique('key')), null);

      const tokenHash = unique('token-hash');
      const id = unique('tok');
      await store.createNodeToken({ id, tokenHash, region: 'eu', allowedIps: ['192.0.2.1'], name: 'eu-1', now: Date.now() });
      assert.deepEqual(await store.findNodeToken(tokenHash), { id, region: 'eu', allowedIps: ['192.0.2.1'] });
      assert.equal(await store.findNodeToken(unique('other-hash')), null);

      const pool = unique('pool');
      await store.ensurePool(pool, tenantId, Date.now());
      await store.ensurePool(pool, null, Date.now());
      assert.deepEqual((await store.knownPools()).filter((p) => p.name === pool), [{ name: pool, tenantId }], 'the first owner stands');
    });

    test('accept: an idempotency key replays its first answer, a changed body is a conflict, per tenant', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const claim = (requestHash: string, response = '{}'): IdempotencyClaim => ({ key: 'order-1', requestHash, status: 202, response, expiresBefore: Date.now() - DAY });
      const first = newMessage({ tenantId, recipients: ['a@dest.test'], pool });
      assert.deepEqual(await store.acceptMessages(tenantId, [first], claim('h1', '{"id":"first"}')), { kind: 'accepted' });

      const replay = newMessage({ tenantId, recipients: ['a@dest.test'], pool });
      assert.deepEqual(await store.acceptMessages(tenantId, [replay], claim('h1')), { kind: 'replay', status: 202, response: '{"id":"first"}' });
      assert.equal(await store.getMessage(tenantId, replay.message.id), null, 'a replay writes nothing');
      assert.deepEqual(await store.acceptMessages(tenantId, [newMessage({ tenantId, recipients: ['b@dest.test'], pool })], claim('h2')), { kind: 'conflict' });

      const other = await newTenant(store);
      const theirs = await store.acceptMessages(other.tenantId, [newMessage({ tenantId: other.tenantId, recipients: ['a@dest.test'], pool })], claim('h2'));
      assert.equal(theirs.kind, 'accepted', "another tenant's key of the same name is its own");

      const racing = Array.from({ length: 5 }, () => store.acceptMessages(tenantId, [newMessage({ tenantId, recipients: ['c@dest.test'], pool })], { ...claim('h3', '{"id":"race"}'), key: 'order-2' }));
      const kinds = (await Promise.all(racing)).map((o) => o.kind).sort();
      assert.deepEqual(kinds, ['accepted', 'replay', 'replay', 'replay', 'replay'], 'concurrent requests with one key: one commits');
    });

    test('messages read back as accepted: by id (jobs by recipient, events in order), listed newest first', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const older = newMessage({ tenantId, recipients: ['b@two.test', 'a@one.test'], pool });
      const newer = newMessage({ tenantId, recipients: ['c@one.test'], pool, lane: 'lifecycle', now: older.message.createdAt + 1000 });
      await store.acceptMessages(tenantId, [older], null);
      await store.acceptMessages(tenantId, [newer], null);

      const found = await store.getMessage(tenantId, older.message.id);
      assert.deepEqual(found?.message, older.message);
      assert.deepEqual(found?.jobs, [...older.jobs].sort((x, y) => x.recipient.localeCompare(y.recipient)));
      assert.deepEqual(found?.events.map((e) => [e.type, e.data]), [['accepted', { recipients: 2 }]]);
      assert.equal(await store.getMessage(unique('tenant'), older.message.id), null, "another tenant's message is not found");

      const list = async (q: Partial<Parameters<Store['listMessages']>[1]> = {}) => (await store.listMessages(tenantId, { limit: 50, ...q })).map((m) => m.id);
      assert.deepEqual(await list(), [newer.message.id, older.message.id]);
      assert.deepEqual(await list({ lane: 'lifecycle' }), [newer.message.id]);
      assert.deepEqual(await list({ domain: 'TWO.test' }), [older.message.id]);
      assert.deepEqual(await list({ limit: 1 }), [newer.message.id]);
      assert.deepEqual(await list({ status: 'delivered' }), []);
      assert.deepEqual(await list({ status: 'queued', provider: 'other' }), [newer.message.id, older.message.id]);

      assert.deepEqual(await store.messageBodies([older.message.id]), [{ id: older.message.id, raw: older.message.raw }]);
      const backlog = (await store.backlog(tenantId)).sort((x, y) => x.lane.localeCompare(y.lane));
      assert.deepEqual(backlog, [{ lane: 'lifecycle', tenantId, queued: 1 }, { lane: 'transactional', tenantId, queued: 2 }]);
      assert.equal(await store.countJobsSince(tenantId, 'transactional', older.message.createdAt), 2);
    });

    // Unqualified, messages.id inside SELECT … FROM delivery_jobs j bound to j.id: every listed
    // message showed 0 recipients and 'queued', also under ?status=delivered.
    test('listed messages carry their recipient count and status', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const m = newMessage({ tenantId, recipients: ['a@one.test', 'b@two.test'], pool });
      await store.acceptMessages(tenantId, [m], null);
      const [job] = await store.claimJobs({ nodeId: 'node-l', region: 'eu', pools: [pool], limit: 1, now: Date.now(), leaseTtlMs: 60_000 });
      assert.ok(job);
      const [listed] = await store.listMessages(tenantId, { limit: 50 });
      assert.deepEqual([listed.id, listed.recipients, listed.status], [m.message.id, 2, 'sending']);
      const leasedOnly = await store.listMessages(tenantId, { limit: 50, status: 'leased' });
      assert.deepEqual(leasedOnly.map((r) => [r.id, r.recipients]), [[m.message.id, 2]]);
    });

    test('message lists page by cursor: every message once, newest first, also within one millisecond', async () => {
      const { tenantId } = await newTenant(store);
      const now = Date.now();
      const items = Array.from({ length: 7 }, (_, i) => newMessage({ tenantId, recipients: [`p${i}@dest.test`], pool: 'default', now: now + (i % 2) }));
      await store.acceptMessages(tenantId, items, null);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const rows = await store.listMessages(tenantId, { limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...rows.map((r) => r.id));
        if (rows.length < 3) break;
        cursor = rows.at(-1)!.id;
      }
      assert.equal(seen.length, 7);
      assert.deepEqual(new Set(seen), new Set(items.map((m) => m.message.id)));
      const created = new Map(items.map((m) => [m.message.id, m.message.createdAt]));
      for (let i = 1; i < seen.length; i++) assert.ok(created.get(seen[i - 1])! >= created.get(seen[i])!, 'newest first');
    });

    test('claim: two concurrent claims never lease the same job; only ready jobs of the pools and region', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const now = Date.now();
      const items = Array.from({ length: 10 }, (_, i) => newMessage({ tenantId, recipients: [`r${i}@dest.test`], pool, now }));
      const elsewhere = newMessage({ tenantId, recipients: ['us@dest.test'], pool, region: 'us', now });
      const later = newMessage({ tenantId, recipients: ['later@dest.test'], pool, now: now + 60_000 });
      await store.acceptMessages(tenantId, [...items, elsewhere, later], null);
      const node = { region: 'eu', version: '1', ips: [{ address: '192.0.2.1', pool, ehlo: 'mta.test' }], capacity: 10, now };
      await store.upsertNode({ id: 'node-a', ...node });
      await store.upsertNode({ id: 'node-a', ...node, capacity: 20 });

      const claim = (nodeId: string) => store.claimJobs({ nodeId, region: 'eu', pools: [pool], limit: 6, now, leaseTtlMs: 60_000 });
      const [a, b] = await Promise.all([claim('node-a'), claim('node-b')]);
      const ids = [...a, ...b].map((j) => j.id);
      assert.equal(ids.length, 10, `claimed ${a.length} + ${b.length}`);
      assert.equal(new Set(ids).size, 10, 'no job leased twice');
      assert.deepEqual(new Set(ids), new Set(items.map((m) => m.jobs[0].id)));
      for (const [jobs, owner] of [[a, 'node-a'], [b, 'node-b']] as const) {
        for (const j of jobs) {
          assert.deepEqual([j.state, j.leaseOwner, j.attempts, j.leaseExpiresAt], ['leased', owner, 1, now + 60_000]);
          assert.deepEqual([j.returnPathDomain, j.dkimDomain, j.constraints], ['shop.test', null, null], 'no sending domain: the From domain');
        }
      }
      assert.deepEqual(await claim('node-c'), [], 'nothing left that is due in this region');
      const outside = await store.readyJobsOutside(['eu'], now, 1000);
      assert.ok(outside.some((j) => j.id === elsewhere.jobs[0].id), 'the us job waits for a us node');
    });

    test('leases: the owner extends them; an expired lease returns its job to the queue with a trace event', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const now = Date.now();
      await store.acceptMessages(tenantId, [newMessage({ tenantId, recipients: ['k@dest.test', 'l@dest.test'], pool, now })], null);
      const [kept, lapsed] = await store.claimJobs({ nodeId: 'node-x', region: 'eu', pools: [pool], limit: 2, now, leaseTtlMs: 1000 });
      await store.extendLeases('node-x', [kept.leaseId!], now + 60_000);
      await store.extendLeases('node-y', [lapsed.leaseId!], now + 60_000);
      assert.ok((await store.expireLeases(now + 5000)) >= 1);

      const jobs = new Map((await store.jobsByIds([kept.id, lapsed.id])).map((j) => [j.id, j]));
      assert.deepEqual([jobs.get(kept.id)?.state, jobs.get(kept.id)?.leaseExpiresAt], ['leased', now + 60_000]);
      const back = jobs.get(lapsed.id)!;
      assert.deepEqual([back.state, back.leaseId, back.leaseOwner, back.nextAttemptAt], ['queued', null, null, now + 5000], 'only the owner extends a lease');
      const events = await store.jobEvents(back.messageId, back.id, ['lease_expired']);
      assert.equal(events.length, 1);
      assert.equal(events[0].data?.node, 'node-x');
    });

    test('transitions apply only from their states; a late duplicate changes nothing; a hard bounce suppresses', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const now = Date.now();
      await store.acceptMessages(tenantId, [newMessage({ tenantId, recipients: ['ok@dest.test', 'gone@dest.test'], pool, now })], null);
      const claimed = await store.claimJobs({ nodeId: 'node-t', region: 'eu', pools: [pool], limit: 2, now, leaseTtlMs: 60_000 });
      const ok = claimed.find((j) => j.recipient === 'ok@dest.test')!;
      const gone = claimed.find((j) => j.recipient === 'gone@dest.test')!;
      const event = (job: typeof ok, type: string) => ({ messageId: job.messageId, jobId: job.id, type, at: now, data: { by: 'contract' } });
      const suppress: NewSuppression = { tenantId, address: gone.recipient, reason: 'hard_bounce', source: '550 5.1.1', messageId: gone.messageId, jobId: gone.id, createdAt: now };
      const final = { leaseId: null, leaseOwner: null, leaseExpiresAt: null, finishedAt: now };
      const applied = await store.applyTransitions([
        { jobId: ok.id, fromStates: ['leased'], set: { state: 'delivered', lastReply: '250 ok', ...final }, events: [event(ok, 'delivered')] },
        { jobId: gone.id, fromStates: ['leased'], set: { state: 'bounced', lastReply: '550 5.1.1', ...final }, events: [event(gone, 'bounced')], suppress },
      ]);
      assert.deepEqual(applied.sort(), [ok.id, gone.id].sort());

      const late = await store.applyTransitions([{ jobId: ok.id, fromStates: ['leased'], set: { state: 'failed' }, events: [event(ok, 'failed')] }]);
      assert.deepEqual(late, []);
      const jobs = new Map((await store.jobsByIds([ok.id, gone.id])).map((j) => [j.id, j]));
      assert.deepEqual([jobs.get(ok.id)?.state, jobs.get(ok.id)?.lastReply, jobs.get(gone.id)?.state], ['delivered', '250 ok', 'bounced']);
      assert.deepEqual((await store.jobEvents(ok.messageId, ok.id, ['delivered', 'failed'])).map((e) => e.type), ['delivered'], 'no event for a transition that did not apply');
      assert.deepEqual((await store.findSuppressions(tenantId, [gone.recipient])).map((s) => s.reason), ['hard_bounce']);
    });

    test('held jobs: requeued with their next slot, released when the hold is lifted', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const now = Date.now();
      await store.acceptMessages(tenantId, [newMessage({ tenantId, recipients: ['held@dest.test'], pool, now })], null);
      const [job] = await store.claimJobs({ nodeId: 'node-h', region: 'eu', pools: [pool], limit: 1, now, leaseTtlMs: 60_000 });
      const trace = { messageId: job.messageId, jobId: job.id, type: 'throttled', at: now, data: { by: `warmup:${pool}:other` } };
      assert.deepEqual(await store.requeueHeld([{ jobId: job.id, nextAttemptAt: now + 60_000, lastClass: 'warmup', event: trace }], now), [job.id]);
      const [held] = await store.jobsByIds([job.id]);
      assert.deepEqual([held.state, held.attempts, held.lastClass, held.nextAttemptAt, held.leaseId], ['queued', 0, 'warmup', now + 60_000, null]);
      assert.deepEqual(await store.claimJobs({ nodeId: 'node-h', region: 'eu', pools: [pool], limit: 1, now, leaseTtlMs: 60_000 }), []);
      assert.equal(await store.releaseHeld({ lastClass: 'shaped', pool }, now), 0, 'another kind of hold is not lifted');
      assert.equal(await store.releaseHeld({ lastClass: 'warmup', pool }, now), 1);
      assert.equal((await store.claimJobs({ nodeId: 'node-h', region: 'eu', pools: [pool], limit: 1, now, leaseTtlMs: 60_000 })).length, 1);
      assert.equal((await store.jobEvents(job.messageId, job.id, ['throttled'])).length, 1);
    });

    test('suppressions: first reason stands; find, list newest first with a cursor and filters, delete', async () => {
      const { tenantId } = await newTenant(store);
      const row = (address: string, reason: SuppressionReason): NewSuppression => ({ tenantId, address, reason, source: 'contract', messageId: null, jobId: null, createdAt: Date.now() });
      const firsts = [row('a@x.test', 'hard_bounce'), row('b@x.test', 'complaint'), row('c@y.test', 'manual'), row('d@y.test', 'unsubscribe'), row('e@x.test', 'manual')];
      assert.deepEqual((await store.addSuppressions(firsts)).sort(), firsts.map((r) => r.address));
      assert.deepEqual(await store.addSuppressions([row('a@x.test', 'manual'), row('f@x.test', 'manual')]), ['f@x.test'], 'only new addresses are added');

      assert.deepEqual((await store.findSuppressions(tenantId, ['a@x.test', 'zz@x.test', 'a@x.test'])).map((r) => [r.address, r.reason]), [['a@x.test', 'hard_bounce']]);
      assert.deepEqual(await store.findSuppressions(unique('tenant'), ['a@x.test']), []);

      const list = async (q: Partial<Parameters<Store['listSuppressions']>[1]>) => (await store.listSuppressions(tenantId, { limit: 50, ...q })).map((r) => r.address);
      const page1 = await store.listSuppressions(tenantId, { limit: 4 });
      assert.deepEqual(page1.map((r) => r.address), ['f@x.test', 'e@x.test', 'd@y.test', 'c@y.test']);
      assert.deepEqual(await list({ limit: 4, before: page1[3].id }), ['b@x.test', 'a@x.test']);
      assert.deepEqual(await list({ contains: 'Y.TEST' }), ['d@y.test', 'c@y.test']);
      assert.deepEqual(await list({ reason: 'manual' }), ['f@x.test', 'e@x.test', 'c@y.test']);

      assert.deepEqual(await store.recordFeedback({ events: [], suppressions: [row('b@x.test', 'complaint'), row('g@x.test', 'complaint')] }), ['g@x.test']);
      assert.equal(await store.deleteSuppression(tenantId, 'A@x.test'), true);
      assert.equal(await store.deleteSuppression(tenantId, 'a@x.test'), false);
      assert.deepEqual(await store.findSuppressions(tenantId, ['a@x.test']), []);
    });

    test('warm-ups: one active per target; counts saved only while active; ended by hand or complete', async () => {
      const pool = unique('pool');
      const now = Date.now();
      const target = { scope: 'pool' as const, key: pool, pool };
      const w = newWarmup(target, now);
      assert.equal(await store.createWarmup(w), 'created');
      assert.equal(await store.createWarmup(newWarmup(target, now)), 'exists');
      assert.deepEqual(await store.getWarmup(w.id), w);
      assert.equal(await store.getWarmup(unique('wu')), null);
      assert.deepEqual((await store.listWarmups({ scope: 'pool', key: pool })).map((x) => x.id), [w.id]);

      const providers: Record<string, WarmupProviderState> = {
        gmail: { day: 2, sentToday: 7, lastSendAt: now, nextAt: now + 1000, signals: { sent: 7, bounced: 0, blocked: 0, complained: 0 }, complete: false, lastDecision: null },
      };
      await store.saveWarmupStates([{ id: w.id, dayStart: now + DAY, providers, now: now + 1 }]);
      const saved = await store.getWarmup(w.id);
      assert.deepEqual([saved?.dayStart, saved?.providers, saved?.status, saved?.updatedAt], [now + DAY, providers, 'active', now + 1]);

      assert.equal(await store.endWarmup(w.id, 'stopped', now + 2), true);
      assert.equal(await store.endWarmup(w.id, 'stopped', now + 3), false, 'already ended');
      await store.saveWarmupStates([{ id: w.id, dayStart: 0, providers: {}, now: now + 4 }]);
      const ended = await store.getWarmup(w.id);
      assert.deepEqual([ended?.status, ended?.endedAt, ended?.dayStart], ['stopped', now + 2, now + DAY], 'an ended warm-up keeps its last counts');

      const next = newWarmup(target, now + 10);
      assert.equal(await store.createWarmup(next), 'created', 'the target is free again');
      await store.saveWarmupStates([{ id: next.id, dayStart: now, providers, status: 'complete', now: now + 11 }]);
      const done = await store.getWarmup(next.id);
      assert.deepEqual([done?.status, done?.endedAt], ['complete', now + 11]);
      assert.deepEqual(await store.listWarmups({ status: 'active', key: pool }), []);
      assert.deepEqual((await store.listWarmups({ key: pool })).map((x) => x.id), [next.id, w.id], 'newest first');
    });

    test('policy events: listed newest first, per subject, and the latest by time; tenant policies count versions', async () => {
      const key = unique('pool');
      const at = Date.now();
      const event = (scope: string, toState: string, t: number) => ({ scope, key, type: 'breaker', fromState: null, toState, reason: 'contract', at: t, data: { to: toState } });
      await store.appendPolicyEvents([event('pool', 'open', at), event('pool', 'half_open', at + 2), event('outreach', 'paused', at + 1), event('pool', 'late_write', at + 1)]);
      await store.appendPolicyEvents([]);

      const mine = (await store.listPolicyEvents(at, 10_000)).filter((e) => e.key === key);
      assert.deepEqual(mine.map((e) => e.toState), ['late_write', 'paused', 'half_open', 'open'], 'newest written first');
      assert.deepEqual((await store.listPolicyEventsFor('pool', key, 2)).map((e) => e.toState), ['late_write', 'half_open']);
      const latest = await store.latestPolicyEvent('pool', [key, unique('other')]);
      assert.deepEqual([latest?.toState, latest?.data], ['half_open', { to: 'half_open' }], 'latest by time, not by write');
      assert.equal(await store.latestPolicyEvent('pool', []), null);
      assert.equal(await store.latestPolicyEvent('nothing', [key]), null);

      const { tenantId } = await newTenant(store);
      assert.equal(await store.getTenantPolicy(tenantId), null);
      assert.equal(await store.putTenantPolicy(tenantId, { lanes: { a: 1 } }, 'contract', at), 1);
      assert.equal(await store.putTenantPolicy(tenantId, { lanes: { a: 2 } }, 'contract', at + 1), 2);
      assert.deepEqual(await store.getTenantPolicy(tenantId), { document: { lanes: { a: 2 } }, version: 2, updatedAt: at + 1 });
    });

    test('sending domains: a check saves guarded by status, one tenant holds a domain verified, events only with the change', async () => {
      const a = await newTenant(store);
      const b = await newTenant(store);
      const name = `${unique('owned')}.test`;
      const row = (owner: string) => ({
        id: unique('dom'), tenantId: owner, domain: name, dkimSelector: 'pl1', dkimAlgorithm: 'rsa-sha256', dkimPrivateKeyEnc: 'v1.x',
        dkimPublicKey: 'pub', returnPathDomain: `bounces.${name}`, status: 'pending', createdAt: Date.now(),
        verifyToken: null, checks: null, checkedAt: null, verifiedAt: null,
      });
      const ra = row(a.tenantId);
      const rb = row(b.tenantId);
      assert.equal(await store.createDomain(ra), 'created');
      assert.equal(await store.createDomain(rb), 'created');
      assert.equal(await store.ensureVerifyToken(ra.id, 'first'), 'first');
      assert.equal(await store.ensureVerifyToken(ra.id, 'second'), 'first');
      const ok = { status: 'ok' as const };
      const checks = { records: { dkim: ok, ownership: ok, spf: ok, dmarc: ok, return_path: ok }, error: null };
      const at = Date.now();
      const event = (id: string) => ({ scope: 'domain_auth', key: id, type: 'domain', fromState: 'pending', toState: 'verified', reason: 'records found', at, data: { domain: name } });
      const save = (r: typeof ra, fromStatus: string, status: string, t: number) =>
        store.saveDomainCheck({ id: r.id, tenantId: r.tenantId, fromStatus, status, checks, checkedAt: t, verifiedAt: status === 'verified' ? t : null, events: [event(r.id)] });
      assert.equal(await save(ra, 'pending', 'verified', at), 'saved');
      assert.equal(await save(ra, 'pending', 'verified', at + 1), 'stale');
      assert.deepEqual(await store.verifiedOwner(name), { tenantId: a.tenantId, id: ra.id });
      assert.equal(await save(rb, 'pending', 'verified', at + 2), 'taken');
      assert.equal((await store.getDomain(b.tenantId, rb.id))?.status, 'pending');
      assert.equal(await store.getDomain(b.tenantId, ra.id), null, 'another tenant\'s id is not found');
      assert.equal((await store.listPolicyEventsFor('domain_auth', ra.id, 10)).length, 1);
      assert.equal((await store.listPolicyEventsFor('domain_auth', rb.id, 10)).length, 0);
      assert.ok((await store.domainsDue(at + 10, 1000)).some((d) => d.id === rb.id));
      assert.ok(!(await store.domainsDue(at, 1000)).some((d) => d.id === ra.id));
    });

    test('sending domains: one per tenant and name; their keys are handed out per tenant', async () => {
      const { tenantId } = await newTenant(store);
      const other = await newTenant(store);
      const row = (owner: string) => ({
        id: unique('dom'), tenantId: owner, domain: 'shop.test', dkimSelector: 'pl1', dkimAlgorithm: 'ed25519-sha256', dkimPrivateKeyEnc: `v1.sealed-${owner}`,
        dkimPublicKey: 'pub', returnPathDomain: 'bounce.shop.test', status: 'pending', createdAt: Date.now(),
        verifyToken: `tok-${owner}`, checks: null, checkedAt: null, verifiedAt: null,
      });
      const mine = row(tenantId);
      assert.equal(await store.createDomain(mine), 'created');
      assert.equal(await store.createDomain(row(tenantId)), 'exists');
      assert.equal(await store.createDomain(row(other.tenantId)), 'created');
      assert.deepEqual(await store.findDomain(tenantId, 'shop.test'), mine);
      assert.equal(await store.findDomain(tenantId, 'other.test'), null);
      assert.deepEqual(await store.listDomains(tenantId), [mine]);
      assert.deepEqual(await store.signingKeys([{ tenantId, domain: 'shop.test' }]), [
        { tenantId, domain: 'shop.test', selector: 'pl1', algorithm: 'ed25519-sha256', privateKeyEnc: `v1.sealed-${tenantId}` },
      ]);

      const pool = unique('pool');
      const now = Date.now();
      await store.acceptMessages(tenantId, [newMessage({ tenantId, recipients: ['x@dest.test'], pool, now })], null);
      const [job] = await store.claimJobs({ nodeId: 'node-d', region: 'eu', pools: [pool], limit: 1, now, leaseTtlMs: 60_000 });
      assert.deepEqual([job.returnPathDomain, job.dkimDomain], ['bounce.shop.test', 'shop.test'], 'a claim carries its domain for VERP and DKIM');
    });

    test('schedule changes: cancel and reschedule apply whole or not at all, with their event only when applied', async () => {
      const { tenantId } = await newTenant(store);
      const pool = unique('pool');
      const now = Date.now();
      const due = (ms: number) => newMessage({ tenantId, recipients: ['a@dest.test', 'b@dest.test'], pool, now: now + ms });
      const [later, leased, other] = [due(3_600_000), due(0), due(3_600_000)];
      await store.acceptMessages(tenantId, [later, leased, other], null);
      const event = (messageId: string, type: 'canceled' | 'rescheduled') => ({ messageId, jobId: null, type, at: now, data: { recipients: 2 } });

      const moved = await store.changeSchedule({ tenantId, messageId: later.message.id, now, action: { kind: 'reschedule', sendAt: now + 7_200_000 }, event: event(later.message.id, 'rescheduled') });
      assert.deepEqual(moved, { kind: 'applied', recipients: 2 });
      const read = (await store.getMessage(tenantId, later.message.id))!;
      assert.equal(read.message.sendAt, now + 7_200_000);
      assert.deepEqual(read.jobs.map((j) => j.nextAttemptAt), [now + 7_200_000, now + 7_200_000]);
      assert.deepEqual(read.events.map((e) => e.type).slice(-1), ['rescheduled']);

      // One job leased: the whole message is past changing, and no event is written.
      await store.claimJobs({ nodeId: 'node-s', region: 'eu', pools: [pool], limit: 1, now, leaseTtlMs: 60_000 });
      const late = await store.changeSchedule({ tenantId, messageId: leased.message.id, now, action: { kind: 'cancel' }, event: event(leased.message.id, 'canceled') });
      assert.equal(late.kind, 'too_late');
      const untouched = (await store.getMessage(tenantId, leased.message.id))!;
      assert.deepEqual(untouched.jobs.map((j) => j.state).sort(), ['leased', 'queued']);
      assert.ok(!untouched.events.some((e) => e.type === 'canceled'));

      // Another tenant cannot change it; its owner cancels every job, and the claim skips them.
      const stranger = await newTenant(store);
      assert.deepEqual(await store.changeSchedule({ tenantId: stranger.tenantId, messageId: other.message.id, now, action: { kind: 'cancel' }, event: event(other.message.id, 'canceled') }), { kind: 'not_found' });
      assert.deepEqual(await store.changeSchedule({ tenantId, messageId: other.message.id, now, action: { kind: 'cancel' }, event: event(other.message.id, 'canceled') }), { kind: 'applied', recipients: 2 });
      assert.deepEqual((await store.getMessage(tenantId, other.message.id))!.jobs.map((j) => j.state), ['canceled', 'canceled']);
      assert.deepEqual(await store.claimJobs({ nodeId: 'node-s', region: 'eu', pools: [pool], limit: 10, now: now + 3_600_000, leaseTtlMs: 60_000 }).then((jobs) => jobs.filter((j) => j.messageId === other.message.id)), []);
    });

    test('sending domains: deleted by their tenant only, and not while mail from them waits', async () => {
      const { tenantId } = await newTenant(store);
      const stranger = await newTenant(store);
      const id = unique('dom');
      await store.createDomain({
        id, tenantId, domain: 'shop.test', dkimSelector: 'pl1', dkimAlgorithm: 'rsa-sha256', dkimPrivateKeyEnc: 'v1.sealed', dkimPublicKey: 'pub',
        returnPathDomain: 'bounces.shop.test', status: 'pending', createdAt: Date.now(), verifyToken: 'tok', checks: null, checkedAt: null, verifiedAt: null,
      });
      const waiting = newMessage({ tenantId, recipients: ['a@dest.test'], pool: unique('pool'), now: Date.now() + 3_600_000 });
      await store.acceptMessages(tenantId, [waiting], null);
      assert.equal(await store.deleteDomain(stranger.tenantId, id), 'not_found');
      assert.equal(await store.deleteDomain(tenantId, id), 'in_use');
      const now = Date.now();
      await store.changeSchedule({ tenantId, messageId: waiting.message.id, now, action: { kind: 'cancel' }, event: { messageId: waiting.message.id, jobId: null, type: 'canceled', at: now, data: null } });
      assert.equal(await store.deleteDomain(tenantId, id), 'deleted');
      assert.equal(await store.getDomain(tenantId, id), null);
      assert.equal(await store.deleteDomain(tenantId, id), 'not_found');
    });
  });
}
