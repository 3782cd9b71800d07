import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkOutreach,
  DEFAULT_OUTREACH_GUARD,
  eligiblePools,
  isInWindow,
  isIPv4,
  nextWindowOpen,
  verifyRecipient,
  zonedTimeToUtc,
  type PoolInfo,
  type SendWindow,
} from '../../../shared/policy/constraints.ts';

const iso = (s: string) => Date.parse(s);
const business: SendWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' };

test('local wall time to UTC, across DST', () => {
  const table: Array<[tz: string, local: [number, number, number, number, number], utc: string]> = [
    ['Europe/Paris', [2026, 1, 15, 9, 0], '2026-01-15T08:00:00Z'],
    ['Europe/Paris', [2026, 7, 15, 9, 0], '2026-07-15T07:00:00Z'],
    ['America/New_York', [2026, 3, 8, 2, 30], '2026-03-08T07:30:00Z'], // spring-forward gap: moves forward by the gap (03:30 EDT)
    ['America/New_York', [2026, 11, 1, 1, 30], '2026-11-01T05:30:00Z'], // fall-back overlap: first occurrence (EDT)
    ['Asia/Kolkata', [2026, 5, 1, 9, 0], '2026-05-01T03:30:00Z'],
    ['UTC', [2026, 2, 28, 23, 59], '2026-02-28T23:59:00Z'],
  ];
  for (const [tz, [y, m, d, h, mi], utc] of table) assert.equal(new Date(zonedTimeToUtc(tz, y, m, d, h, mi)).toISOString(), new Date(utc).toISOString(), `${tz} ${y}-${m}-${d} ${h}:${mi}`);
});

test('send window: open now, or the next opening in the recipient zone', () => {
  const table: Array<[tz: string, now: string, inWindow: boolean, next: string | null]> = [
    // Mon 2026-11-23 10:00 Paris = 09:00Z
    ['Europe/Paris', '2026-11-23T09:00:00Z', true, '2026-11-23T09:00:00Z'],
    // Mon 18:00 Paris: next is Tue 09:00 Paris
    ['Europe/Paris', '2026-11-23T17:00:00Z', false, '2026-11-24T08:00:00Z'],
    // Fri 17:30 New York: next is Mon 09:00 New York
    ['America/New_York', '2026-11-27T22:30:00Z', false, '2026-11-30T14:00:00Z'],
    // Sat in Tokyo while it's still Friday in UTC
    ['Asia/Tokyo', '2026-11-27T16:00:00Z', false, '2026-11-30T00:00:00Z'],
    // 08:59 Sydney on a Monday
    ['Australia/Sydney', '2026-11-22T21:59:00Z', false, '2026-11-22T22:00:00Z'],
  ];
  for (const [tz, now, inWindow, next] of table) {
    assert.equal(isInWindow(business, tz, iso(now)), inWindow, `${tz} ${now}`);
    const got = nextWindowOpen(business, tz, iso(now));
    assert.equal(got === null ? null : new Date(got).toISOString(), next === null ? null : new Date(next).toISOString(), `${tz} ${now}`);
  }
  assert.equal(nextWindowOpen({ days: [], start: '09:00', end: '17:00' }, 'UTC', 0), null);
  assert.throws(() => isInWindow(business, 'Mars/Olympus', 0), /unknown time zone "Mars\/Olympus"/);
  assert.throws(() => isInWindow({ ...business, start: '9am' }, 'UTC', 0), /invalid time "9am"/);
});

test('overnight windows run past midnight', () => {
  const night: SendWindow = { days: ['mon'], start: '22:00', end: '02:00' };
  assert.equal(isInWindow(night, 'UTC', iso('2026-11-23T23:00:00Z')), true); // Mon 23:00
  assert.equal(isInWindow(night, 'UTC', iso('2026-11-24T01:00:00Z')), true); // Tue 01:00, from Monday's window
  assert.equal(isInWindow(night, 'UTC', iso('2026-11-24T23:00:00Z')), false); // Tue 23:00
});

test('pools: dedicated-only, no spillover, region, IPv4-only', () => {
  const pools: PoolInfo[] = [
    { name: 'acme-tx', dedicated: true, tenantId: 'acme', region: 'eu', ips: ['192.0.2.10', '2001:db8::10'] },
    { name: 'acme-v6', dedicated: true, tenantId: 'acme', region: 'eu', ips: ['2001:db8::11'] },
    { name: 'other-tx', dedicated: true, tenantId: 'other', region: 'eu', ips: ['192.0.2.20'] },
    { name: 'shared-eu', dedicated: false, region: 'eu', ips: ['192.0.2.30'] },
    { name: 'shared-us', dedicated: false, region: 'us', ips: ['198.51.100.1'] },
  ];
  const names = (r: ReturnType<typeof eligiblePools>) => r.pools.map((p) => p.name);
  assert.deepEqual(names(eligiblePools(pools, { pools: ['acme-tx'] }, 'acme')), ['acme-tx']);
  assert.deepEqual(names(eligiblePools(pools, { pools: ['acme-tx'], allowSharedSpillover: true }, 'acme')), ['acme-tx', 'shared-eu', 'shared-us']);
  assert.deepEqual(names(eligiblePools(pools, { pools: ['acme-tx'], allowSharedSpillover: true, regions: ['eu'] }, 'acme')), ['acme-tx', 'shared-eu']);
  assert.deepEqual(names(eligiblePools(pools, { pools: ['acme-tx'], allowSharedSpillover: true, dedicatedOnly: true }, 'acme')), ['acme-tx']);
  const v4 = eligiblePools(pools, { pools: ['acme-tx', 'acme-v6'], ipv4Only: true }, 'acme');
  assert.deepEqual(v4.pools.map((p) => [p.name, p.ips]), [['acme-tx', ['192.0.2.10']]]);
  assert.deepEqual(v4.excluded, [{ pool: 'acme-v6', reason: 'no IPv4 address' }]);
  const theirs = eligiblePools(pools, { pools: ['other-tx'] }, 'acme');
  assert.deepEqual(theirs.excluded, [{ pool: 'other-tx', reason: "another tenant's dedicated pool" }]);
  for (const [a, ok] of [['192.0.2.1', true], ['256.1.1.1', false], ['01.2.3.4', false], ['::1', false], ['1.2.3', false]] as const) assert.equal(isIPv4(a), ok, a);
});

test('outreach guard-rails: pause, cap, hours, batch', () => {
  const monday10Paris = iso('2026-11-23T09:00:00Z');
  const table: Array<[name: string, input: Parameters<typeof checkOutreach>[1], allowed: number, reason: RegExp | null, retryAt: string | null]> = [
    ['in hours, small batch', { requested: 10, sentToday: 0, dailyCap: 200, tz: 'Europe/Paris', now: monday10Paris }, 10, null, null],
    ['batch size caps a request', { requested: 500, sentToday: 0, dailyCap: 200, tz: 'Europe/Paris', now: monday10Paris }, 25, null, null],
    ['near the daily cap', { requested: 25, sentToday: 190, dailyCap: 200, tz: 'Europe/Paris', now: monday10Paris }, 10, null, null],
    ['daily cap reached: next business morning', { requested: 5, sentToday: 200, dailyCap: 200, tz: 'Europe/Paris', now: monday10Paris }, 0, /daily cap/, '2026-11-24T08:00:00Z'],
    ['out of hours', { requested: 5, sentToday: 0, dailyCap: 200, tz: 'America/New_York', now: monday10Paris }, 0, /business hours/, '2026-11-23T14:00:00Z'],
    ['complaints pause', { requested: 5, sentToday: 0, dailyCap: 200, tz: 'Europe/Paris', now: monday10Paris, recent: { sent: 400, complained: 1 } }, 0, /paused/, null],
    ['too few sends to judge complaints', { requested: 5, sentToday: 0, dailyCap: 200, tz: 'Europe/Paris', now: monday10Paris, recent: { sent: 50, complained: 1 } }, 5, null, null],
  ];
  for (const [name, input, allowed, reason, retryAt] of table) {
    const r = checkOutreach(DEFAULT_OUTREACH_GUARD, input);
    assert.equal(r.allowed, allowed, name);
    if (reason) assert.match(r.reason ?? '', reason, name);
    else assert.equal(r.reason, null, name);
    assert.equal(r.retryAt === null ? null : new Date(r.retryAt).toISOString(), retryAt === null ? null : new Date(retryAt).toISOString(), name);
  }
});

test('recipient verification combines MX, role and disposable checks', () => {
  const table: Array<[address: string, mx: boolean | null, ok: boolean, flags: string[]]> = [
    ['jane@example.com', true, true, []],
    ['jane@example.com', false, false, ['no_mx']],
    ['jane@example.com', null, true, ['mx_unknown']],
    ['postmaster@example.com', true, false, ['role_account']],
    ['Sales+eu@example.com', true, false, ['role_account']],
    ['bob@mailinator.com', true, false, ['disposable']],
    ['info@yopmail.com', true, false, ['role_account', 'disposable']],
    ['not-an-address', true, false, ['invalid_syntax']],
    ['a@b', true, false, ['invalid_syntax']],
  ];
  for (const [address, mx, ok, flags] of table) {
    const r = verifyRecipient(address, mx);
    assert.deepEqual([r.ok, r.flags], [ok, flags], address);
    assert.equal(r.reason === null, ok, address);
  }
  assert.equal(verifyRecipient('info@example.com', true, { rejectRoleAccounts: false }).ok, true);
  assert.equal(verifyRecipient('x@burner.test', true, { extraDisposable: ['burner.test'] }).ok, false);
});
