import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeSpf, nextStatus } from '../../edge/services/domain-check.ts';
import { unquoteTxt } from '../../edge/adapters/doh-dns-records.ts';
import type { DomainChecks, RecordCheck } from '../../edge/domain/records.ts';

test('SPF advice merges the mechanism before all/redirect, keeps a record that has it, or starts one', () => {
  assert.equal(mergeSpf('v=spf1 include:_spf.google.com ~all', ['include:spf.postlane.net']), 'v=spf1 include:_spf.google.com include:spf.postlane.net ~all');
  assert.equal(mergeSpf('v=spf1 mx redirect=_spf.example.com', ['ip4:192.0.2.7']), 'v=spf1 mx ip4:192.0.2.7 redirect=_spf.example.com');
  assert.equal(mergeSpf('v=spf1 +include:spf.postlane.net -all', ['include:spf.postlane.net']), 'v=spf1 +include:spf.postlane.net -all');
  assert.equal(mergeSpf('v=spf1 a', ['ip4:192.0.2.7']), 'v=spf1 a ip4:192.0.2.7');
  assert.equal(mergeSpf(null, ['ip4:192.0.2.7', 'ip6:2001:db8::1']), 'v=spf1 ip4:192.0.2.7 ip6:2001:db8::1 ~all');
});

const checks = (dkim: RecordCheck['status'], ownership: RecordCheck['status']): DomainChecks => {
  const skip = { status: 'skipped' as const };
  return { records: { dkim: { status: dkim, ...(dkim === 'error' ? { error: 'ESERVFAIL' } : {}) }, ownership: { status: ownership }, spf: skip, dmarc: skip, return_path: skip }, error: null };
};

test('status: both required records verify; a lookup failure keeps the status; a verified domain missing one fails', () => {
  assert.deepEqual(nextStatus('pending', checks('ok', 'ok')), { status: 'verified', error: null });
  assert.equal(nextStatus('pending', checks('ok', 'missing')).status, 'pending');
  assert.equal(nextStatus('verified', checks('mismatch', 'ok')).status, 'failed');
  const kept = nextStatus('verified', checks('error', 'ok'));
  assert.equal(kept.status, 'verified');
  assert.match(kept.error!, /ESERVFAIL/);
});

test('DoH TXT data: quoted character-strings are joined', () => {
  assert.equal(unquoteTxt('"v=DKIM1; k=rsa; p=MIIB" "IjANBg"'), 'v=DKIM1; k=rsa; p=MIIBIjANBg');
  assert.equal(unquoteTxt('"say \\"hi\\""'), 'say "hi"');
});
