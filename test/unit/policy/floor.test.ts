/** Operator policy is a floor: the direction table, the comparison, and clamping at resolution. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLOOR_DIRECTIONS, clampToFloor, floorViolations, isWithinFloor, windowWithin } from '../../../shared/policy/floor.ts';
import { DEFAULT_POLICY_DOCUMENT, loadPolicyDocument, resolvePolicy, tenantFloorViolations, type PolicyDocument } from '../../../shared/policy/defaults.ts';

const OP = 'default';
/** The platform document with the operator's and a tenant's layers, as the edge assembles it. */
const doc = (operator: unknown, tenant: unknown): PolicyDocument => ({ ...loadPolicyDocument({ tenants: { [OP]: operator ?? {}, acme: tenant ?? {} } }), floor: OP });

test('the direction table covers every field of a resolved lane policy, and names no field that does not exist', () => {
  const { layers: _l, laneWeights: _w, ...policy } = resolvePolicy(DEFAULT_POLICY_DOCUMENT, { tenantId: 'x', lane: 'outreach' });
  const leaves: string[] = [];
  const walk = (o: unknown, path: string[]) => {
    const key = path.join('.');
    if (key in FLOOR_DIRECTIONS && FLOOR_DIRECTIONS[key] !== 'required') return leaves.push(key);
    if (o && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) walk(v, [...path, k]);
    else leaves.push(key);
  };
  walk(policy, []);
  for (const leaf of leaves) assert.ok(leaf in FLOOR_DIRECTIONS, `no direction for ${leaf}`);
  const get = (path: string) => path.split('.').reduce<any>((x, k) => (x == null ? undefined : x[k]), policy);
  for (const path of Object.keys(FLOOR_DIRECTIONS)) if (path !== 'warmup.plan.table') assert.notEqual(get(path), undefined, `${path} is not a field`);
});

test('each direction: which way is tighter', () => {
  const cases: Array<[Parameters<typeof isWithinFloor>[0], unknown, unknown, boolean]> = [
    ['lower', 100, 200, true],
    ['lower', 300, 200, false],
    ['higher', 30, 20, true],
    ['higher', 10, 20, false],
    ['lowerRate', '30/min', '60/min', true],
    ['lowerRate', '2/s', '60/min', false],
    ['lowerRate', null, '60/min', false],
    ['lowerRate', '1000/min', null, true],
    ['longer', '2h', '1h', true],
    ['longer', '30m', '1h', false],
    ['shorter', '30s', '1m', true],
    ['true', true, true, true],
    ['true', false, true, false],
    ['true', false, false, true],
    ['false', true, false, false],
    ['subset', ['eu'], ['eu', 'us'], true],
    ['subset', ['ap'], ['eu', 'us'], false],
    ['subset', null, ['eu'], false],
    ['subset', [], ['eu'], false],
    ['subset', ['ap'], null, true],
    ['required', null, { dailyCap: 1 }, false],
    ['required', { dailyCap: 1 }, null, true],
    ['perKeyLower', { gmail: 10, other: 999 }, { gmail: 20 }, true],
    ['perKeyLower', { gmail: 30 }, { gmail: 20 }, false],
    [{ order: ['reject', 'flag'] }, 'reject', 'flag', true],
    [{ order: ['reject', 'flag'] }, 'flag', 'reject', false],
    ['fixed', '1h', '1h', true],
    ['fixed', '2h', '1h', false],
    ['free', ['anything'], ['else'], true],
  ];
  for (const [direction, value, floor, within] of cases) assert.equal(isWithinFloor(direction, value, floor), within, `${JSON.stringify(direction)} ${JSON.stringify(value)} vs ${JSON.stringify(floor)}`);
  assert.equal(FLOOR_DIRECTIONS['quota.dailyCap'], 'lowerCap');
  assert.equal(FLOOR_DIRECTIONS.tenantRate, 'lowerRate');
  assert.equal(FLOOR_DIRECTIONS.outreach, 'required');
  assert.equal(FLOOR_DIRECTIONS['breaker.openOn.complaintRate'], 'lower');
  assert.equal(FLOOR_DIRECTIONS.dedicatedOnly, 'true');
});

test('send windows: a subset is tighter, including windows past midnight; null is any time', () => {
  const week = { days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, start: '09:00', end: '17:00' };
  assert.ok(windowWithin({ days: ['mon'], start: '10:00', end: '12:00' }, { ...week, days: [...week.days] }));
  assert.ok(!windowWithin({ days: ['sat'], start: '10:00', end: '12:00' }, { ...week, days: [...week.days] }));
  assert.ok(!windowWithin({ days: ['mon'], start: '08:00', end: '12:00' }, { ...week, days: [...week.days] }));
  assert.ok(!windowWithin(null, { ...week, days: [...week.days] }));
  assert.ok(windowWithin({ days: ['fri'], start: '23:00', end: '01:00' }, { days: ['fri', 'sat'], start: '00:00', end: '00:00' }));
  assert.ok(!windowWithin({ days: ['fri'], start: '23:00', end: '01:00' }, { days: ['fri'], start: '00:00', end: '00:00' }));
  assert.ok(windowWithin({ days: ['mon'], start: '10:00', end: '11:00' }, null));
});

test("a tenant's loosening is named by its document path; tightening passes", () => {
  const names = (tenant: unknown, operator: unknown = {}) => tenantFloorViolations(doc(operator, tenant), 'acme').map((v) => v.field);
  assert.deepEqual(names({ lanes: { outreach: { outreach: null } } }), ['lanes.outreach.outreach']);
  assert.deepEqual(names({ lanes: { outreach: { quota: { dailyCap: 500 } } } }), ['lanes.outreach.quota.dailyCap']);
  assert.deepEqual(names({ lanes: { outreach: { tenantRate: '600/min' } } }), ['lanes.outreach.tenantRate']);
  assert.deepEqual(names({ lanes: { outreach: { tenantRate: null } } }), ['lanes.outreach.tenantRate']);
  assert.deepEqual(names({ lanes: { outreach: { sendWindow: null } } }), ['lanes.outreach.sendWindow']);
  assert.deepEqual(names({ defaults: { breaker: { openOn: { complaintRate: 0.5 } } } }), ['defaults.breaker.openOn.complaintRate']);
  assert.deepEqual(names({ domains: { 'acme.com': { lanes: { outreach: { outreach: { verification: 'flag' } } } } } }), ['domains.acme.com.lanes.outreach.outreach.verification']);
  assert.deepEqual(names({ lanes: { outreach: { outreach: { batchSize: 5 }, quota: { dailyCap: 50 }, tenantRate: '10/min' } } }), []);
  // A more specific tighter layer makes a looser general one harmless.
  assert.deepEqual(names({ defaults: { tenantRate: '1000/min' }, lanes: { outreach: { tenantRate: '30/min' } } }), []);
  // The operator's own values are the floor: it may loosen the built-ins, and then so may tenants, up to it.
  assert.deepEqual(names({ lanes: { outreach: { quota: { dailyCap: 500 } } } }, { lanes: { outreach: { quota: { dailyCap: 1000 } } } }), []);
  assert.deepEqual(names({ lanes: { outreach: { quota: { dailyCap: 150 } } } }, { lanes: { outreach: { quota: { dailyCap: 100 } } } }), ['lanes.outreach.quota.dailyCap']);
  // The operator is not held to a floor: its document is the floor.
  assert.deepEqual(tenantFloorViolations(doc({ lanes: { outreach: { outreach: null } } }, {}), OP), []);
  const [v] = tenantFloorViolations(doc({}, { lanes: { outreach: { quota: { dailyCap: 500 } } } }), 'acme');
  assert.match(v.reason, /200.*only lower/);
});

test('resolution clamps a stored tenant layer to the current floor (the operator tightened later)', () => {
  // Stored when the floor was 200/day and 60/min: the tenant's 150 and 50/min were tighter then.
  const tenant = { lanes: { outreach: { outreach: { batchSize: 10 }, quota: { dailyCap: 150 }, tenantRate: '50/min' } } };
  const before = resolvePolicy(doc({}, tenant), { tenantId: 'acme', lane: 'outreach' });
  assert.equal(before.quota.dailyCap, 150);
  assert.equal(before.clamped, undefined);
  const operator = { lanes: { outreach: { quota: { dailyCap: 100 }, tenantRate: '20/min' } } };
  const after = resolvePolicy(doc(operator, tenant), { tenantId: 'acme', lane: 'outreach' });
  assert.equal(after.quota.dailyCap, 100, 'held to the tightened floor');
  assert.equal(after.outreach?.batchSize, 10, 'the tenant’s tighter value stays');
  assert.equal(after.tenantRate, '20/min');
  assert.deepEqual(after.clamped, ['tenantRate', 'quota.dailyCap']);
  assert.ok(after.layers.includes('floor:tenants.default'));
  // A removed guard-rail stored before the check existed comes back whole.
  const off = resolvePolicy(doc({}, { lanes: { outreach: { outreach: null, sendWindow: null } } }), { tenantId: 'acme', lane: 'outreach' });
  assert.deepEqual(off.outreach, resolvePolicy(DEFAULT_POLICY_DOCUMENT, { tenantId: 'x', lane: 'outreach' }).outreach);
  assert.ok(off.sendWindow);
  // The operator itself resolves to its own document.
  assert.equal(resolvePolicy(doc(operator, tenant), { tenantId: OP, lane: 'outreach' }).quota.dailyCap, 100);
  // Without a floor (a document the edge did not assemble) nothing is clamped.
  assert.equal(resolvePolicy(loadPolicyDocument({ tenants: { acme: { lanes: { outreach: { quota: { dailyCap: 5000 } } } } } }), { tenantId: 'acme', lane: 'outreach' }).quota.dailyCap, 5000);
});

test('clampToFloor does not touch its input', () => {
  const floor = resolvePolicy(DEFAULT_POLICY_DOCUMENT, { tenantId: 'x', lane: 'outreach' });
  const loose = { ...floor, quota: { ...floor.quota, dailyCap: 10_000 } };
  const { policy, clamped } = clampToFloor(loose, floor);
  assert.equal(loose.quota.dailyCap, 10_000);
  assert.equal(policy.quota.dailyCap, 200);
  assert.deepEqual(clamped, ['quota.dailyCap']);
  assert.deepEqual(floorViolations(policy, floor), []);
});
