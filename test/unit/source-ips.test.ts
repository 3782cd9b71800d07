/** The hub's reading of the source-IP registry (edge/hub/source-ips.ts): pure, table-tested. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptAtHello, leasingView } from '../../edge/hub/source-ips.ts';
import type { SourceIpRecord } from '../../edge/ports/store.ts';

const reg = (address: string, pool: string, status: SourceIpRecord['status'] = 'active', nodeTokenId: string | null = null): SourceIpRecord => ({ address, pool, status, nodeTokenId, createdAt: 0, updatedAt: 0 });
const ip = (address: string, pool: string) => ({ address, pool, ehlo: 'mta.test' });

describe('source IP registry in the hub', () => {
  test('hello: unregistered IPs as declared; registered ones in their pool; retired or bound to another token refused', () => {
    const declared = [ip('10.0.0.1', 'default'), ip('10.0.0.2', 'x'), ip('10.0.0.3', 'y'), ip('10.0.0.4', 'z'), ip('10.0.0.5', 'z')];
    const registry = [reg('10.0.0.2', 'bulk'), reg('10.0.0.3', 'bulk', 'retired'), reg('10.0.0.4', 'bulk', 'active', 'ntk_other'), reg('10.0.0.5', 'bulk', 'draining', 'ntk_me')];
    assert.deepEqual(acceptAtHello(declared, 'ntk_me', registry), [ip('10.0.0.1', 'default'), ip('10.0.0.2', 'bulk'), ip('10.0.0.5', 'bulk')]);
  });

  test('leasing: draining IPs take no lease, moved IPs serve their new pool, and the hub then names every lease’s IP', () => {
    const accepted = [ip('10.0.0.1', 'default'), ip('10.0.0.2', 'bulk'), ip('10.0.0.3', 'spare')];
    const unchanged = leasingView(accepted, 'ntk', [reg('10.0.0.2', 'bulk')], []);
    assert.deepEqual(unchanged.pools, ['default', 'bulk', 'spare']);
    assert.equal(unchanged.pickIps, false);
    const view = leasingView(accepted, 'ntk', [reg('10.0.0.2', 'bulk', 'draining'), reg('10.0.0.3', 'ded')], [{ name: 'ded', tenantId: 'ten_a' }, { name: 'default', tenantId: null }]);
    assert.deepEqual(view.ips.map((i) => `${i.address}/${i.pool}`), ['10.0.0.1/default', '10.0.0.3/ded']);
    assert.deepEqual(view.pools, ['default', 'ded']);
    assert.deepEqual(view.owners, { ded: 'ten_a' });
    assert.equal(view.pickIps, true);
  });

  test('an IP bound to another token after hello stops leasing for this one', () => {
    const view = leasingView([ip('10.0.0.1', 'default')], 'ntk_me', [reg('10.0.0.1', 'default', 'active', 'ntk_other')], []);
    assert.deepEqual(view.ips, []);
    assert.deepEqual(view.pools, []);
  });
});
