/**
 * Policy that acts: the operator's shaping document (POSTLANE_SHAPING_FILE) changes what the hub
 * does with a live reply, not only what the API validates. Its reply rules and retry schedules
 * decide the job's transition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, addDomain, waitFor } from '../helpers/platform.ts';
import { smtpError, startSink } from '../mta-node/helpers.ts';

function shapingFile(doc: unknown): { file: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'postlane-policy-acts-'));
  const file = join(dir, 'shaping.json');
  writeFileSync(file, JSON.stringify(doc));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Sends one message per recipient; returns the message views once each job left `leased`. */
async function sendAndSettle(env: Record<string, string>, recipients: string[], reply: string) {
  const [code, enhanced, ...rest] = reply.split(' ');
  const sink = await startSink({ onRcpt: (to) => (to.startsWith('rej') ? smtpError(Number(code), `${enhanced} ${rest.join(' ')}`) : null) });
  const p = await startPlatform({ sinkPort: sink.port, env });
  try {
    await addDomain(p, 'example.com');
    const ids: string[] = [];
    for (const to of recipients) {
      const res = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: [to], subject: 'policy', text: 'x' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    await p.startNode();
    const views: any[] = [];
    for (const id of ids) {
      views.push(
        await waitFor(async () => {
          const v = (await p.api('GET', `/v1/messages/${id}`)).body;
          return v.events?.some((e: { type: string }) => ['deferred', 'bounced', 'delivered'].includes(e.type)) ? v : null;
        }, 15_000, `result of ${id}`),
      );
    }
    return views;
  } finally {
    await p.stop();
    await sink.close();
  }
}

const REPLY = '550 5.7.1 Rejected by local rule LR-17';

test('an operator reply rule turns a 5xx into a deferral of the live job (shipped table: a bounce)', async () => {
  const [shipped] = await sendAndSettle({}, ['rej@lr17.test'], REPLY);
  assert.equal(shipped.status, 'bounced', JSON.stringify(shipped.events));

  const f = shapingFile({ providers: { other: { replies: [{ id: 'ops.lr17', match: { code: 550, text: 'LR-17' }, class: 'rate_limited', source: 'runbook 7' }] } } });
  try {
    const [view] = await sendAndSettle({ POSTLANE_SHAPING_FILE: f.file }, ['rej@lr17.test'], REPLY);
    const deferred = view.events.find((e: { type: string }) => e.type === 'deferred');
    assert.ok(deferred, JSON.stringify(view.events));
    assert.equal(deferred.data.rule, 'ops.lr17');
    assert.equal(deferred.data.class, 'rate_limited');
    assert.notEqual(view.status, 'bounced');
  } finally {
    f.cleanup();
  }
});

test("an operator retry schedule decides the live job's fate: a class ttl of 0s fails it at its first deferral", async () => {
  const reply = '451 4.3.0 Temporary local problem LR-18';
  const [shipped] = await sendAndSettle({}, ['rej@lr18.test'], reply);
  assert.equal(shipped.status, 'queued', JSON.stringify(shipped.events));
  const f = shapingFile({ generic: { classes: { other_transient: { retry: { ttl: '0s' } } } } });
  try {
    const [view] = await sendAndSettle({ POSTLANE_SHAPING_FILE: f.file }, ['rej@lr18.test'], reply);
    const deferred = view.events.find((e: { type: string }) => e.type === 'deferred');
    assert.equal(deferred?.data.class, 'other_transient', JSON.stringify(view.events));
    assert.equal(deferred.data.next_attempt_at, null);
    assert.equal(view.status, 'failed');
  } finally {
    f.cleanup();
  }
});

test("a live Yahoo [TSS04] reply suspends that IP for yahoo.TSS04's 2h: shown in GET /v1/reputation, and no lease from it", async () => {
  const sink = await startSink({ onRcpt: (to) => (to.startsWith('rej') ? smtpError(421, '4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints') : null) });
  const p = await startPlatform({ sinkPort: sink.port });
  try {
    await addDomain(p, 'example.com');
    const first = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: ['rej@yahoo.com'], subject: 'tss04', text: 'x' });
    assert.equal(first.status, 202);
    await p.startNode();
    const deferred = await waitFor(async () => (await p.api('GET', `/v1/messages/${first.body.id}`)).body.events.find((e: { type: string }) => e.type === 'deferred') ?? null, 15_000, 'the deferral');
    // Measured from the reply the rule fired on (the hub's clock), not from when the test looked.
    const t0 = Date.parse(deferred.at);
    const rep = await waitFor(async () => {
      const r = (await p.api('GET', '/v1/reputation')).body;
      return r.suspended_ips.length ? r : null;
    }, 5_000, 'the suspension');
    const s = rep.suspended_ips.find((x: { provider: string; ip: string }) => x.provider === 'yahoo' && x.ip === '127.0.0.1');
    assert.ok(s, JSON.stringify(rep.suspended_ips));
    const leftMs = Date.parse(s.until) - t0;
    assert.ok(Math.abs(leftMs - 120 * 60_000) <= 60_000, `suspended for ${leftMs} ms after the reply, the rule says 2h`);
    assert.ok(rep.events.some((e: { type: string; data: { rule?: string } }) => e.type === 'suspend' && e.data?.rule === 'yahoo.TSS04'));

    // More Yahoo mail: the pool's only IP is suspended for Yahoo, so nothing is leased; Gmail still goes.
    const next = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: ['ok@yahoo.com'], subject: 'after', text: 'x' });
    const gmail = await p.api('POST', '/v1/messages', { from: 'a@example.com', to: ['ok@gmail.com'], subject: 'after', text: 'x' });
    await waitFor(async () => (await p.api('GET', `/v1/messages/${gmail.body.id}`)).body.status === 'delivered', 15_000, 'gmail delivery');
    const held = await waitFor(async () => {
      const v = (await p.api('GET', `/v1/messages/${next.body.id}`)).body;
      return v.events.some((e: { type: string }) => e.type === 'throttled') ? v : null;
    }, 5_000, 'the hold');
    assert.ok(!held.events.some((e: { type: string }) => e.type === 'leased'), JSON.stringify(held.events));
    assert.ok(!sink.mails.some((m: { to: string[] }) => m.to.includes('ok@yahoo.com')));
  } finally {
    await p.stop();
    await sink.close();
  }
});

test('a custom domain whose MX is Google (aspmx.l.google.com) is shaped as gmail from accept; a DNS failure falls back to its domain', async () => {
  const p = await startPlatform();
  try {
    p.dns.set('workspace-corp.test', { mx: [{ preference: 1, exchange: 'aspmx.l.google.com' }, { preference: 5, exchange: 'alt1.aspmx.l.google.com' }] });
    p.dns.set('m365-corp.test', { mx: [{ preference: 0, exchange: 'm365-corp-test.mail.protection.outlook.com' }] });
    p.dns.set('broken-dns.test', { servfail: true });
    await addDomain(p, 'example.com');
    const res = await p.api('POST', '/v1/messages', {
      from: 'a@example.com',
      to: ['ann@workspace-corp.test', 'bob@m365-corp.test', 'cy@broken-dns.test', 'dee@plain.test'],
      subject: 'mx',
      text: 'x',
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const view = await p.api('GET', `/v1/messages/${res.body.id}`);
    const providers = Object.fromEntries(view.body.recipients.map((r: { recipient: string; provider: string }) => [r.recipient, r.provider]));
    assert.deepEqual(providers, { 'ann@workspace-corp.test': 'gmail', 'bob@m365-corp.test': 'microsoft', 'cy@broken-dns.test': 'other', 'dee@plain.test': 'other' });
  } finally {
    await p.stop();
  }
});
