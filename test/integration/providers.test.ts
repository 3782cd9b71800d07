/**
 * The operator's provider table (POSTLANE_SHAPING_FILE, KumoMTA-style overrides of the shipped
 * one) decides each recipient's provider at accept, so a provider the operator adds is matched
 * and shaped by its own limits, and an override of a shipped provider's domains applies too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, addDomain, waitFor } from '../helpers/platform.ts';
import { startSink } from '../mta-node/helpers.ts';

test('an operator-defined provider is assigned at accept and its mail is delivered under its shaping', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postlane-providers-'));
  const file = join(dir, 'shaping.json');
  writeFileSync(
    file,
    JSON.stringify({
      providers: {
        corpmail: { name: 'Corp Mail', domains: ['corp.example', 'corp-mail.*'], shaping: { ratePerIp: '120/min', maxConnectionsPerIp: 1 } },
        yahoo: { domains: ['yahoo.com', 'ymail.example'] },
      },
    }),
  );
  const sink = await startSink();
  const p = await startPlatform({ sinkPort: sink.port, env: { POSTLANE_SHAPING_FILE: file } });
  try {
    await addDomain(p, 'example.com');
    const res = await p.api('POST', '/v1/messages', {
      from: 'a@example.com',
      to: ['ann@corp.example', 'bob@corp-mail.de', 'cy@ymail.example', 'dee@gmail.com', 'eve@elsewhere.test'],
      subject: 'providers',
      text: 'x',
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const view = await p.api('GET', `/v1/messages/${res.body.id}`);
    const providers = Object.fromEntries(view.body.recipients.map((r: { recipient: string; provider: string }) => [r.recipient, r.provider]));
    assert.deepEqual(providers, {
      'ann@corp.example': 'corpmail',
      'bob@corp-mail.de': 'corpmail',
      'cy@ymail.example': 'yahoo',
      'dee@gmail.com': 'gmail',
      'eve@elsewhere.test': 'other',
    });
    await p.startNode();
    await waitFor(async () => (await p.api('GET', `/v1/messages/${res.body.id}`)).body.status === 'delivered', 15_000, 'delivery');
    assert.equal(sink.mails.length, 5);
  } finally {
    await p.stop();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
