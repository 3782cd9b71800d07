/**
 * The simulator's escalation replies, as the shipped reply rules classify them: a throttle is a
 * throttle, and a block after ignored throttles is about the IP (deferred, the IP suspended for
 * the provider) — never a bounce of the message. Caught the Gmail 550 5.7.1 IP block falling to
 * the RFC 3463 x.7.1 fallback (`policy`, bounced), fixed by gmail.550-5.7.1-ip-blocked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyReply } from '../../shared/policy/classifier.ts';
import { parseSmtpReply } from '../../shared/smtp-reply.ts';
import { BEHAVIOURS } from '../simulator/behaviours.ts';
import { REPLIES } from '../simulator/replies.ts';
import type { SimProviderName } from '../simulator/provider-sim.ts';

const fill = (text: string) => text.replaceAll('{ip}', '192.0.2.1').replaceAll('{domain}', 'shop.example').replaceAll('{rcpt}', 'c1@example.com');
const classify = (provider: SimProviderName, [code, text]: [number, string]) => classifyReply(parseSmtpReply(`${code} ${fill(text)}`), { provider });

test('throttle replies defer and slow down, never bounce', () => {
  for (const name of Object.keys(BEHAVIOURS) as SimProviderName[]) {
    for (const reply of [REPLIES[name].throttle, BEHAVIOURS[name].replies.domainThrottle]) {
      const c = classify(name, reply);
      assert.equal(c.outcome, 'deferred', `${name} ${reply[0]}: ${c.rule}`);
      assert.ok(['rate_limited', 'ip_reputation'].includes(c.class), `${name}: ${c.class} (${c.rule})`);
      assert.notEqual(c.poolAction, 'none', `${name}: ${c.rule} must slow the sender`);
    }
  }
});

test('escalated blocks are about the IP: deferred, the IP suspended for the provider', () => {
  const expected: Record<SimProviderName, string> = {
    gmail: 'gmail.550-5.7.1-ip-blocked',
    microsoft: 'microsoft.550-5.7.606',
    yahoo: 'yahoo.421-4.7.1-TS03',
    other: 'any.dnsbl-listed',
  };
  for (const name of Object.keys(BEHAVIOURS) as SimProviderName[]) {
    const c = classify(name, BEHAVIOURS[name].replies.block);
    assert.equal(c.rule, expected[name], name);
    assert.equal(c.class, 'blocklisted', name);
    assert.equal(c.outcome, 'deferred', `${name}: the message leaves from another IP, it is not bounced`);
    assert.equal(c.poolAction, 'suspend_ip_for_provider', name);
    assert.equal(c.signal, 'block', name);
  }
});

test("Gmail's other 5.7.1 (content) still bounces: the new row is the IP block only", () => {
  const c = classify('gmail', [550, "5.7.1 [192.0.2.1] Gmail has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. gsmtp"]);
  assert.equal(c.rule, 'gmail.550-5.7.1-unsolicited');
  assert.equal(c.outcome, 'bounced');
});
