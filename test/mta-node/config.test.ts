import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../mta-node/config.ts';
import { MxResolver } from '../../mta-node/mx.ts';

const base = ['--edge', 'ws://127.0.0.1:8787', '--token', 'T', '--region', 'eu', '--ip', '127.0.0.1=default=mta1.example.com'];

test('parses flags and environment once', () => {
  const c = loadConfig([...base, '--ip', '::1=v6', '--capacity', '50', '--node-id', 'n1'], {
    POSTLANE_DNS_SERVERS: '1.1.1.1, 8.8.8.8:53',
    POSTLANE_ROUTES: 'example.com=127.0.0.1:2525,*=relay.local:26',
  });
  assert.equal(c.capacity, 50);
  assert.equal(c.nodeId, 'n1');
  assert.equal(c.journalPath, '.postlane/node-n1.journal');
  assert.deepEqual(c.ips[0], { address: '127.0.0.1', pool: 'default', ehlo: 'mta1.example.com' });
  assert.equal(c.ips[1].pool, 'v6');
  assert.deepEqual(c.dnsServers, ['1.1.1.1', '8.8.8.8:53']);
  assert.deepEqual(c.routes.get('example.com'), { host: '127.0.0.1', port: 2525 });
  const mx = new MxResolver({ routes: c.routes });
  assert.deepEqual(mx.staticRoute('sub.example.com'), { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(mx.staticRoute('other.org'), { host: 'relay.local', port: 26 });
});

test('bad settings fail with a message naming each one', () => {
  assert.throws(
    () => loadConfig(['--edge', 'http://x', '--region', 'EU', '--ip', 'nope=default', '--capacity', '0'], { POSTLANE_ROUTES: 'a.com=bad host' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      for (const name of ['--edge', '--token', '--region', '--ip', '--capacity', 'POSTLANE_ROUTES']) assert.match(err.message, new RegExp(name));
      return true;
    },
  );
  assert.throws(() => loadConfig([...base, '--bogus']), /invalid command line/);
});
