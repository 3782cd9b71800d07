/**
 * The provider simulator over real SMTP with its judgement on (config.reputation): a sender that
 * ignores Gmail's 421 4.7.28 meets 550 5.7.1 for its IP, in that order, and the block is
 * recorded; complaints on a Yahoo-like provider end in its block reply. nodemailer is the sender.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startProviderSim } from '../simulator/provider-sim.ts';

async function attempt(port: number, from: string, to: string): Promise<string> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    const info = await t.sendMail({ from, to, subject: 's', text: 'x' });
    return info.response;
  } catch (err) {
    return (err as { response?: string }).response ?? String(err);
  } finally {
    t.close();
  }
}

test('gmail-like: ignoring the throttle escalates to an IP block, in order', async () => {
  const sim = await startProviderSim({ gmail: { reputation: { perIp: { limit: 5, windowMs: 60_000 }, escalation: { escalateAfter: 5, ignoredPenalty: 0.2 } } } });
  try {
    const gmail = sim.providers.gmail;
    const replies: string[] = [];
    for (let i = 0; i < 25; i++) replies.push(await attempt(gmail.port, 'news@shop.example', `c${i}@gmail.com`));
    const code = (r: string) => (/^250/.test(r) ? 'ok' : /4\.7\.28/.test(r) ? 'throttle' : /^550[ -]5\.7\.1/.test(r) ? 'block' : r);
    const seq = replies.map(code);
    assert.deepEqual(seq.slice(0, 5), Array(5).fill('ok'));
    const firstBlock = seq.indexOf('block');
    assert.ok(firstBlock > 5, seq.join(','));
    assert.deepEqual([...new Set(seq.slice(5, firstBlock))], ['throttle']);
    assert.deepEqual([...new Set(seq.slice(firstBlock))], ['block']);
    assert.match(replies[firstBlock], /mail sent from your IP address has been blocked/);
    assert.equal(gmail.book!.blocks.length, 1);
    assert.equal(gmail.book!.blocks[0].domain, 'shop.example');
    assert.equal(gmail.count('accepted'), 5);
    assert.equal(gmail.count('blocked'), 25 - firstBlock);
  } finally {
    await sim.stop();
  }
});

test('complaints lower the score until the provider blocks the IP', async () => {
  const sim = await startProviderSim({ yahoo: { complains: () => true, reputation: { perIp: { limit: 1000, windowMs: 60_000 }, escalation: { complaintPenalty: 0.4, tarpitMs: 50 } } } });
  try {
    const yahoo = sim.providers.yahoo;
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push(await attempt(yahoo.port, 'news@shop.example', `c${i}@yahoo.com`));
    // Two complaints take the score from 1 to 0.2, under blockBelow (0.3): the third is refused.
    assert.match(replies[0], /^250/);
    assert.match(replies[1], /^250/);
    assert.match(replies[2], /\[TS03\]/);
    assert.equal(yahoo.book!.blocks[0].cause, 'complaints');
  } finally {
    await sim.stop();
  }
});
