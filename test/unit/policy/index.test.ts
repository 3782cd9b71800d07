import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as policy from '../../../shared/policy/index.ts';

test('the index re-exports every module without name clashes', () => {
  for (const name of ['parseRate', 'providerFor', 'loadShapingPolicy', 'classifyReply', 'planRetry', 'take', 'onThrottle', 'recordOutcome', 'nextSendAt', 'projectedSafeThroughput', 'allocate', 'nextWindowOpen', 'verifyRecipient', 'resolvePolicy']) {
    assert.equal(typeof (policy as Record<string, unknown>)[name], 'function', name);
  }
});

test('policy modules stay runtime-neutral: no node: imports, no timers, no I/O', () => {
  const dir = fileURLToPath(new URL('../../../shared/policy/', import.meta.url));
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(dir + file, 'utf8');
    assert.doesNotMatch(src, /from ['"]node:|require\(|\bsetTimeout\(|\bsetInterval\(|\bfetch\(|Date\.now\(|Math\.random\(\)/, file);
  }
});
