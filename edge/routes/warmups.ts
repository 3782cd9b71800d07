/**
 * Warm-ups of pools and source IPs (SPEC §4, §7): start one with a plan (the lane's or the
 * policy's, with overrides), read its state per provider with the projected safe throughput,
 * stop it. Pools and IPs are the platform's, so starting and stopping is the operator's. The
 * operator sees every warm-up; another tenant sees only pool warm-ups of the dedicated pools it
 * owns (404 for any other id), never an IP warm-up.
 *
 * The hub (edge/hub/warmup.ts) enforces active warm-ups; its live counts are newer than the
 * store's row by up to one tick, so a read takes them from the hub where it has them.
 */
import { createRoute, z } from '@hono/zod-openapi';
import * as v from 'valibot';
import type { App } from '../context.ts';
import type { AppDeps } from '../ports/app.ts';
import type { LiveWarmup } from '../ports/lease-hub.ts';
import type { PolicyEventRecord, WarmupRecord } from '../domain/records.ts';
import { CreateWarmupSchema, ErrorSchema, WarmupListQuerySchema, WarmupViewSchema, type WarmupView } from '../../shared/api.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { resolvePolicy, resolveWarmupPlan, WarmupPlanSchema } from '../../shared/policy/defaults.ts';
import { LANES, type Lane } from '../../shared/policy/scheduler.ts';
import { formatIssues, parseDuration } from '../../shared/policy/units.ts';
import { dailyCap, projectedSafeThroughput, type WarmupPlan } from '../../shared/policy/warmup.ts';
import { DAY_MS, describeTarget, initialProviderState } from '../services/warmups.ts';
import { requireScope } from '../middleware/auth.ts';
import { tenantDocument } from '../services/policy.ts';
import { errorResponses } from './responses.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { policyEvent, policyRecord } from '../../shared/events/index.ts';
import { actorOf, recordAudit } from '../services/audit.ts';

const IdParam = z.object({ id: z.string().min(1).max(64) });

const createWarmup = createRoute({
  method: 'post',
  path: '/v1/warmups',
  summary: 'Start a warm-up of a pool or one source IP (operator only)',
  middleware: [requireScope('admin')] as const,
  request: { body: { content: { 'application/json': { schema: CreateWarmupSchema } }, required: true } },
  responses: {
    201: { description: 'The warm-up, on day 1', content: { 'application/json': { schema: WarmupViewSchema } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 409, 503]),
  },
});

const listWarmups = createRoute({
  method: 'get',
  path: '/v1/warmups',
  summary: 'Warm-ups with their state per provider and projected safe throughput',
  middleware: [requireScope('read')] as const,
  request: { query: WarmupListQuerySchema },
  responses: {
    200: { description: 'Warm-ups, newest first', content: { 'application/json': { schema: z.object({ data: z.array(WarmupViewSchema) }) } } },
    ...errorResponses(ErrorSchema, [400, 401, 403, 503]),
  },
});

const getWarmup = createRoute({
  method: 'get',
  path: '/v1/warmups/{id}',
  summary: 'One warm-up: state per provider, projected safe throughput, and its day-by-day decisions',
  middleware: [requireScope('read')] as const,
  request: { params: IdParam },
  responses: {
    200: { description: 'The warm-up', content: { 'application/json': { schema: WarmupViewSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 404, 503]),
  },
});

const stopWarmup = createRoute({
  method: 'delete',
  path: '/v1/warmups/{id}',
  summary: 'Stop a warm-up (operator only); the mail it held goes at the pool\'s normal rates',
  middleware: [requireScope('admin')] as const,
  request: { params: IdParam },
  responses: {
    200: { description: 'The warm-up, stopped (or as it was, if it had already ended)', content: { 'application/json': { schema: WarmupViewSchema } } },
    ...errorResponses(ErrorSchema, [401, 403, 404, 503]),
  },
});

const operatorOnly = (tenantId: string, what: string) => {
  if (tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', `only the operator tenant ${what}`, { scope: 'admin' });
};
const iso = (t: number | null | undefined) => (t === null || t === undefined ? null : new Date(t).toISOString());

/** The warm-up as the API shows it, from the stored row and the hub's live counts. */
export function warmupView(row: WarmupRecord, live: LiveWarmup | undefined, now: number, events?: PolicyEventRecord[]): WarmupView {
  const plan = row.plan as unknown as WarmupPlan;
  const active = row.status === 'active' && (live?.status ?? 'active') === 'active';
  const dayStart = live?.dayStart ?? row.dayStart;
  const providers = live?.providers ?? row.providers;
  const names = [...new Set([...Object.keys(plan.day1), ...Object.keys(providers)])];
  const state = (p: string) => providers[p] ?? initialProviderState(dayStart);
  const warming = names.filter((p) => !state(p).complete);
  const projected = projectedSafeThroughput(plan, Object.fromEntries(names.map((p) => [p, state(p).day])), Object.fromEntries(names.map((p) => [p, state(p).signals])));
  const view = names.map((provider) => {
    const s = state(provider);
    const cap = dailyCap(plan, provider, s.day);
    const capped = s.sentToday >= cap;
    const next = !active || s.complete ? null : capped ? dayStart + DAY_MS : Math.max(s.nextAt ?? now, now);
    return {
      provider,
      day: s.day,
      cap_today: cap,
      sent_today: s.sentToday,
      remaining_today: Math.max(0, cap - s.sentToday),
      next_send_at: iso(next),
      last_send_at: iso(s.lastSendAt),
      signals_today: s.signals,
      complete: s.complete,
      last_decision: s.lastDecision ? { decision: s.lastDecision.decision, from_day: s.lastDecision.from, to_day: s.lastDecision.to, reason: s.lastDecision.reason, at: iso(s.lastDecision.at)! } : null,
      projected: { per_day: projected[provider].perDay, per_hour: projected[provider].perHour, decision: projected[provider].decision, reason: projected[provider].reason },
    };
  });
  return {
    id: row.id,
    scope: row.scope as 'pool' | 'ip',
    target: row.key,
    pool: row.pool,
    lane: row.lane,
    status: (live?.status === 'complete' ? 'complete' : row.status) as WarmupView['status'],
    started_at: iso(row.startedAt)!,
    ended_at: iso(row.endedAt),
    day_start: iso(dayStart)!,
    next_day_at: active ? iso(dayStart + DAY_MS) : null,
    overrides: row.overrides,
    plan: row.plan,
    providers: view,
    projected_safe_throughput: {
      per_day: warming.reduce((n, p) => n + projected[p].perDay, 0),
      per_hour: warming.reduce((n, p) => n + projected[p].perHour, 0),
    },
    ...(events ? { events: events.map((e) => ({ type: eventType(e), from: e.fromState, to: e.toState, reason: e.reason, at: iso(e.at)!, data: e.data ?? null })) } : {}),
  };
}

/** started | grow | hold | step_back | complete | stopped */
function eventType(e: PolicyEventRecord): string {
  const decision = (e.data as { decision?: string } | null)?.decision;
  if (decision) return decision;
  return e.toState === 'active' ? 'started' : (e.toState ?? 'unknown');
}

/** Which warm-ups this tenant may read: the operator all; another tenant pool warm-ups of its own pools. */
async function warmupVisibility(deps: AppDeps, tenantId: string): Promise<(row: WarmupRecord) => boolean> {
  if (tenantId === OPERATOR_TENANT) return () => true;
  const owned = new Set((await deps.store.knownPools()).filter((p) => p.tenantId === tenantId).map((p) => p.name));
  return (row) => row.scope === 'pool' && owned.has(row.pool ?? row.key);
}

/** The pools a warm-up holds jobs of: its pool, else those the nodes declare its IP in (none if unknown). */
async function heldPools(deps: AppDeps, row: WarmupRecord): Promise<string[]> {
  if (row.pool) return [row.pool];
  if (row.scope === 'pool') return [row.key];
  return [...new Set((await deps.hub.nodes()).flatMap((n) => n.ips).filter((ip) => ip.address === row.key).map((ip) => ip.pool))];
}

async function liveById(deps: AppDeps): Promise<Map<string, LiveWarmup>> {
  return new Map((await deps.hub.warmups()).map((w) => [w.id, w]));
}

/** The lane whose pools include this pool in the operator's policy: its plan is the base. */
function laneOfPool(doc: Parameters<typeof resolvePolicy>[0], pool: string | null): Lane | null {
  if (!pool) return null;
  return LANES.find((lane) => resolvePolicy(doc, { tenantId: OPERATOR_TENANT, lane }).pools.includes(pool)) ?? null;
}

export function registerWarmups(app: App) {
  app.openapi(createWarmup, async (c) => {
    const { tenantId, keyId } = c.get('caller');
    operatorOnly(tenantId, 'starts warm-ups');
    const deps = c.get('deps');
    const body = c.req.valid('json');
    const now = deps.now?.() ?? Date.now();

    const scope = body.ip ? 'ip' : 'pool';
    let pool = body.pool ?? null;
    if (scope === 'pool') {
      if (!pool) throw invalid('pool', 'give the pool to warm up, or an ip');
      if (!(await deps.store.knownPools()).some((p) => p.name === pool)) throw invalid('pool', `unknown pool "${pool}"`);
    } else if (!pool) {
      // The IP's pool, from the nodes that declare it: held-back jobs are released by pool.
      pool = (await deps.hub.nodes()).flatMap((n) => n.ips).find((ip) => ip.address === body.ip)?.pool ?? null;
    }

    // Same schema as the policy's warmup.plan (shared/policy/defaults.ts): one definition.
    const parsed = v.safeParse(WarmupPlanSchema, body.plan ?? {});
    if (!parsed.success) {
      const first = parsed.issues[0];
      const path = v.getDotPath(first);
      throw new ApiError('invalid_request', `plan: ${formatIssues(parsed.issues)}`, { field: path ? `plan.${path}` : 'plan', reason: formatIssues([first]).replace(/^[^:]*: /, '') });
    }
    const overrides = (body.plan ?? {}) as Record<string, unknown>;
    const doc = await tenantDocument(deps, OPERATOR_TENANT, now);
    const lane = body.lane ?? laneOfPool(doc, pool);
    const plan = resolveWarmupPlan(doc, { tenantId: OPERATOR_TENANT, lane }, overrides);
    const spread = parseDuration(plan.spreadOver);
    if (spread <= 0 || spread > DAY_MS) throw invalid('plan.spreadOver', `must be more than 0 and at most 24h, got "${plan.spreadOver}"`);

    const key = scope === 'ip' ? body.ip! : pool!;
    const row: WarmupRecord = {
      id: newId('wup', now),
      scope,
      key,
      pool,
      lane,
      overrides,
      plan: plan as unknown as Record<string, unknown>,
      status: 'active',
      startedAt: now,
      dayStart: now,
      providers: Object.fromEntries(Object.keys(plan.day1).map((p) => [p, initialProviderState(now)])),
      endedAt: null,
      createdBy: keyId,
      updatedAt: now,
    };
    if ((await deps.store.createWarmup(row)) === 'exists') {
      const [existing] = await deps.store.listWarmups({ status: 'active', scope, key });
      throw new ApiError('conflict', `${describeTarget(row)} already has an active warm-up${existing ? ` (${existing.id})` : ''}; stop it first`, { field: scope, reason: 'an active warm-up exists', warmup: existing?.id });
    }
    const caps = Object.keys(plan.day1).map((p) => `${p} ${dailyCap(plan, p, 1)}`).join(', ');
    await deps.store.appendPolicyEvents([
      policyRecord(policyEvent('warmup', { scope: 'warmup', key: row.id, from: null, to: 'active', reason: `warm-up of ${describeTarget(row)} started from the ${lane ?? 'default'} plan; day 1 caps: ${caps}`, at: now, data: { warmup: row.id, scope, target: key, pool, lane, overrides, by: keyId } })),
    ]);
    deps.logger.info({ warmup: row.id, scope, target: key, pool, lane, key: keyId }, 'warm-up started');
    await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'warmup.start', target: { kind: 'warmup', id: row.id }, before: null, after: { scope, target: key, pool, lane, overrides, status: 'active' } });
    await deps.hub.warmupsChanged();
    return c.json(warmupView(row, undefined, now), 201);
  });

  app.openapi(listWarmups, async (c) => {
    const deps = c.get('deps');
    const q = c.req.valid('query');
    const now = deps.now?.() ?? Date.now();
    const [rows, live, visible] = await Promise.all([deps.store.listWarmups({ status: q.status, scope: q.scope }), liveById(deps), warmupVisibility(deps, c.get('caller').tenantId)]);
    return c.json({ data: rows.filter(visible).map((r) => warmupView(r, live.get(r.id), now)) }, 200);
  });

  app.openapi(getWarmup, async (c) => {
    const deps = c.get('deps');
    const { id } = c.req.valid('param');
    const now = deps.now?.() ?? Date.now();
    const row = await deps.store.getWarmup(id);
    if (!row || !(await warmupVisibility(deps, c.get('caller').tenantId))(row)) throw new ApiError('not_found', `no warm-up ${id}`);
    const [live, events] = await Promise.all([liveById(deps), deps.store.listPolicyEventsFor('warmup', id, 200)]);
    return c.json(warmupView(row, live.get(id), now, events), 200);
  });

  app.openapi(stopWarmup, async (c) => {
    const { tenantId, keyId } = c.get('caller');
    operatorOnly(tenantId, 'stops warm-ups');
    const deps = c.get('deps');
    const { id } = c.req.valid('param');
    const now = deps.now?.() ?? Date.now();
    const row = await deps.store.getWarmup(id);
    if (!row) throw new ApiError('not_found', `no warm-up ${id}`);
    // Keep the last counts the hub holds before the row is closed to its writes.
    const live = (await liveById(deps)).get(id);
    if (live && row.status === 'active') await deps.store.saveWarmupStates([{ id, dayStart: live.dayStart, providers: live.providers, now }]);
    if (await deps.store.endWarmup(id, 'stopped', now)) {
      await deps.store.appendPolicyEvents([policyRecord(policyEvent('warmup', { scope: 'warmup', key: id, from: 'active', to: 'stopped', reason: `warm-up of ${describeTarget(row)} stopped by hand`, at: now, data: { warmup: id, scope: row.scope, target: row.key, pool: row.pool, by: keyId } }))]);
      await deps.hub.warmupsChanged();
      // What the warm-up held goes now, at the pool's normal rates: only its pools' jobs (an IP
      // warm-up whose pool no node declares releases nothing; the hub's next day frees them).
      let released = 0;
      for (const pool of await heldPools(deps, row)) released += await deps.store.releaseHeld({ lastClass: 'warmup', pool }, now);
      deps.logger.info({ warmup: id, target: row.key, released, key: keyId }, 'warm-up stopped');
      await recordAudit(deps, { actor: actorOf(c.get('caller')), action: 'warmup.stop', target: { kind: 'warmup', id }, before: { scope: row.scope, target: row.key, status: row.status }, after: { scope: row.scope, target: row.key, status: 'stopped' } });
      deps.hub.notifyWork(null);
    }
    const after = (await deps.store.getWarmup(id))!;
    return c.json(warmupView(after, undefined, now), 200);
  });
}
