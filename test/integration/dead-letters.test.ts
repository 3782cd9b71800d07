/**
 * The dead-letter queue (SPEC §7): a message refused for good through one pool is listed with its
 * reason chain and retry history, content redacted (shown to an admin with a reason, audited),
 * replayed through another pool and delivered exactly once; a second replay sends nothing; a
 * suppressed recipient is refused unless forced with a reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, waitFor, addDomain } from '../helpers/platform.ts';
import { smtpError, startSink } from '../mta-node/helpers.ts';

test('dead letters: listed redacted, replayed through another pool once, suppressed refused', async () => {
  // Pool `default` leaves through a receiver that refuses everything; pool `second` through one that takes it.
  const refusing = await startSink({ onRcpt: (to) => (to.startsWith('gone') ? smtpError(550, '5.1.1 user unknown') : smtpError(554, '5.0.0 transaction failed from this address')) });
  const good = await startSink();
  const p = await startPlatform();
  try {
    await addDomain(p, 'example.com');
    await p.startNode({ routes: { '*': { host: '127.0.0.1', port: refusing.port } } });
    await p.startNode({ ips: [{ address: '127.0.0.1', pool: 'second', ehlo: 'mta2.test' }], routes: { '*': { host: '127.0.0.1', port: good.port } } });

    const sent = [];
    for (const to of ['alice@dest.test', 'bob@dest.test', 'gone@dest.test']) {
      const res = await p.api('POST', '/v1/messages', { from: 'a@example.com', to, subject: `for ${to}`, text: 'secret body text' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      sent.push(res.body.id);
    }
    const dead = await waitFor(async () => {
      const list = await p.api('GET', '/v1/dead-letters');
      return list.body.data?.length === 3 && list.body;
    }, 20_000, 'three dead letters');
    assert.equal(good.mails.length, 0);
    const alice = dead.data.find((d: any) => d.recipient === 'alice@dest.test');
    assert.equal(alice.state, 'bounced');
    assert.equal(alice.content.redacted, true);
    assert.ok(!JSON.stringify(dead).includes('secret body text'), 'content is redacted by default');
    assert.match(alice.reason_chain.at(-1).reason, /554 5\.0\.0/);
    assert.ok(alice.retry_history.some((e: any) => e.type === 'leased'));
    assert.equal(alice.replayed_by, null);

    // Filters and keyset pages.
    const filtered = await p.api('GET', '/v1/dead-letters?domain=dest.test&pool=default&limit=2');
    assert.equal(filtered.body.data.length, 2);
    assert.equal(filtered.body.has_more, true);
    const next = await p.api('GET', `/v1/dead-letters?limit=2&cursor=${filtered.body.next_cursor}`);
    assert.equal(next.body.data.length, 1);
    assert.equal(new Set([...filtered.body.data, ...next.body.data].map((d: any) => d.job_id)).size, 3);
    assert.equal((await p.api('GET', '/v1/dead-letters?pool=second')).body.data.length, 0);

    // An admin with a reason sees the content; the reveal is audited.
    const revealed = await p.api('GET', `/v1/dead-letters?reason=${encodeURIComponent('ticket 42: check the template')}`);
    assert.equal(revealed.status, 200);
    const content = revealed.body.data.find((d: any) => d.recipient === 'alice@dest.test').content;
    assert.equal(content.redacted, false);
    assert.match(content.body, /secret body text/);
    assert.match(content.headers, /^From: /m);

    // Replay alice and bob through pool `second`: delivered once each.
    const ids = dead.data.filter((d: any) => d.recipient !== 'gone@dest.test').map((d: any) => d.job_id);
    const replay = await p.api('POST', '/v1/dead-letters/replay', { ids, pool: 'second' });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.equal(replay.body.replayed.length, 2);
    await waitFor(() => good.mails.length === 2, 20_000, 'the replays to be delivered');
    assert.deepEqual(good.mails.flatMap((m) => m.to).sort(), ['alice@dest.test', 'bob@dest.test']);
    assert.match(good.mails[0].raw, /secret body text/);

    // A replay twice sends once.
    const again = await p.api('POST', '/v1/dead-letters/replay', { ids, pool: 'second' });
    assert.equal(again.body.replayed.length, 0);
    assert.deepEqual(again.body.already_replayed.map((a: any) => a.original_job_id).sort(), [...ids].sort());
    const byFilter = await p.api('POST', '/v1/dead-letters/replay', { filter: { pool: 'default' }, pool: 'second' });
    assert.equal(byFilter.body.replayed.length, 0, 'replayed dead letters are not picked up by a filter again');

    // The trace links both ways.
    const original = (await p.api('GET', `/v1/messages/${sent[0]}`)).body;
    const replayed = original.events.find((e: any) => e.type === 'replayed');
    assert.ok(replayed, JSON.stringify(original.events.map((e: any) => e.type)));
    const copy = (await p.api('GET', `/v1/messages/${replayed.data.replay_message}`)).body;
    assert.equal(copy.status, 'delivered');
    assert.equal(copy.events.find((e: any) => e.type === 'replay_of').data.original_message, sent[0]);

    // gone@ was suppressed by its hard bounce: refused, unless forced with a reason.
    const gone = dead.data.find((d: any) => d.recipient === 'gone@dest.test');
    const refused = await p.api('POST', '/v1/dead-letters/replay', { ids: [gone.job_id], pool: 'second' });
    assert.equal(refused.body.replayed.length, 0);
    assert.equal(refused.body.refused[0].recipient, 'gone@dest.test');
    const noReason = await p.api('POST', '/v1/dead-letters/replay', { ids: [gone.job_id], pool: 'second', force: true });
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.error.field, 'reason');
    const forced = await p.api('POST', '/v1/dead-letters/replay', { ids: [gone.job_id], pool: 'second', force: true, reason: 'mailbox restored, ticket 7' });
    assert.equal(forced.body.replayed.length, 1);
    await waitFor(() => good.mails.length === 3, 20_000, 'the forced replay');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(good.mails.length, 3, 'each replay delivered exactly once');

    const audit = await p.api('GET', '/v1/audit');
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    const entries = audit.body.data.filter((e: any) => e.action.startsWith('dead_letter.'));
    assert.equal(entries.filter((e: any) => e.action === 'dead_letter.reveal').length, 3, 'one reveal entry per dead letter shown');
    const force = entries.find((e: any) => e.action === 'dead_letter.replay_forced');
    assert.equal(force.reason, 'mailbox restored, ticket 7');

    const badPool = await p.api('POST', '/v1/dead-letters/replay', { ids, pool: 'nope' });
    assert.equal(badPool.status, 400);
    assert.equal(badPool.body.error.field, 'pool');
  } finally {
    await p.stop();
    await refusing.close();
    await good.close();
  }
});
