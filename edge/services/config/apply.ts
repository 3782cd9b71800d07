/**
 * Plan, apply, rollback. A plan reads the live state, validates the state the document asks
 * for, stores the diff with the live state's hash and the latest version's seq, and changes
 * nothing else. An apply re-reads the live state and is refused (409) if its hash moved; it then
 * writes every change, the new version, and one audit entry per change in one transaction, which
 * the store refuses whole if another apply took the next version first. A rollback plans the
 * state an earlier version left. Secrets are generated at apply (DKIM keys, webhook secrets),
 * never declared, planned or kept in a version; a new webhook's secret is in the apply's answer.
 */
import type { AppDeps } from '../../ports/app.ts';
import type { ConfigPlanRecord, ConfigVersionRecord, ConfigWrite, NewAuditEntry } from '../../ports/store.ts';
import type { SendingDomainRecord } from '../../domain/records.ts';
import type { ConfigDocument } from '../../../shared/config-schema.ts';
import { ApiError } from '../../../shared/errors.ts';
import { newId } from '../../../shared/ids.ts';
import { auditRow, type AuditActor } from '../audit.ts';
import { newVerifyToken } from '../domain-check.ts';
import { generateDkimKey, selectorFor } from '../domains.ts';
import { forgetTenantPolicy } from '../policy.ts';
import { forgetPools } from '../send.ts';
import { newWebhookSecret } from '../../webhooks/signing.ts';
import { desiredState, diffStates, documentOf, renderChanges, type ConfigChange, type ConfigState } from './diff.ts';
import { readLiveConfig, stateHash, type LiveConfig } from './state.ts';
import { policyDocumentOf, validateDesired } from './validate.ts';

/** A plan older than this is refused at apply: plan again against what is live now. */
const PLAN_TTL_MS = 24 * 3600_000;
const nowOf = (deps: Pick<AppDeps, 'now'>) => deps.now?.() ?? Date.now();

export interface PlanOutcome {
  plan: ConfigPlanRecord;
  changes: ConfigChange[];
  text: string;
}

export async function planConfig(deps: AppDeps, actor: AuditActor, tenantId: string, doc: ConfigDocument, rollbackOf: ConfigVersionRecord | null = null): Promise<PlanOutcome> {
  const now = nowOf(deps);
  const [live, latest] = await Promise.all([readLiveConfig(deps, tenantId), deps.store.latestConfigVersion(tenantId)]);
  const desired = desiredState(live.state, doc);
  await validateDesired(deps, tenantId, doc, live, desired);
  const changes = diffStates(live.state, desired);
  const plan: ConfigPlanRecord = {
    id: newId('cfp', now),
    tenantId,
    baseSeq: latest?.seq ?? 0,
    stateHash: live.hash,
    // The whole desired state: the apply needs nothing but this and the live state it was planned on.
    document: documentOf(desired) as unknown as Record<string, unknown>,
    changes,
    kind: rollbackOf ? 'rollback' : 'apply',
    rollbackOf: rollbackOf?.id ?? null,
    createdBy: actor.keyId,
    createdAt: now,
    appliedAt: null,
  };
  await deps.store.saveConfigPlan(plan);
  return { plan, changes, text: renderChanges(changes) };
}

export async function planRollback(deps: AppDeps, actor: AuditActor, tenantId: string, versionId: string): Promise<PlanOutcome> {
  const version = await deps.store.getConfigVersion(tenantId, versionId);
  if (!version) throw new ApiError('not_found', `no configuration version ${versionId}`);
  return planConfig(deps, actor, tenantId, version.document as unknown as ConfigDocument, version);
}

export interface ApplyOutcome {
  version: ConfigVersionRecord;
  /** Signing secrets of the webhooks this apply created, by URL: shown this once. */
  webhookSecrets: Record<string, string>;
}

export async function applyPlan(deps: AppDeps, actor: AuditActor, tenantId: string, planId: string): Promise<ApplyOutcome> {
  const now = nowOf(deps);
  const plan = await deps.store.getConfigPlan(tenantId, planId);
  if (!plan) throw new ApiError('not_found', `no configuration plan ${planId}`);
  if (plan.appliedAt !== null) throw new ApiError('conflict', `plan ${planId} was applied already`, { reason: 'applied' });
  if (now - plan.createdAt > PLAN_TTL_MS) throw new ApiError('conflict', `plan ${planId} is older than a day; plan again`, { reason: 'expired' });
  const live = await readLiveConfig(deps, tenantId);
  if (live.hash !== plan.stateHash) throw staleConflict(planId);
  const desired = desiredState(live.state, plan.document as unknown as ConfigDocument);
  const changes = diffStates(live.state, desired);
  const { writes, webhookSecrets } = await writesFor(deps, tenantId, actor, changes, live, desired, now);
  const version: ConfigVersionRecord = {
    id: newId('cfv', now),
    tenantId,
    seq: plan.baseSeq + 1,
    document: plan.document,
    changes,
    stateHash: await stateHash(desired),
    kind: plan.kind,
    rollbackOf: plan.rollbackOf,
    appliedBy: actor.keyId,
    appliedAt: now,
  };
  const reason = `${plan.kind === 'rollback' ? `rollback to ${plan.rollbackOf}` : 'apply'}: version ${version.seq} (${version.id}), plan ${plan.id}`;
  const audit: NewAuditEntry[] = [
    ...changes.map((c) => auditRow({ actor, tenantId, action: `config.${c.action}`, target: { kind: c.kind, id: c.id }, before: c.before, after: c.after, reason }, now)),
    auditRow({ actor, tenantId, action: `config.${plan.kind}`, target: { kind: 'config', id: version.id }, before: { seq: plan.baseSeq }, after: { seq: version.seq, changes: changes.length, state_hash: version.stateHash }, reason }, now),
  ];
  if ((await deps.store.applyConfig({ plan, version, writes, audit })) === 'conflict') throw staleConflict(planId);
  forgetTenantPolicy(deps, tenantId);
  forgetPools(deps);
  deps.hub.notifyWork(null);
  deps.logger.info({ tenant: tenantId, key: actor.keyId, version: version.id, seq: version.seq, changes: changes.length }, 'configuration applied');
  return { version, webhookSecrets };
}

const staleConflict = (planId: string) =>
  new ApiError('conflict', `the live configuration changed since plan ${planId} was made; plan again`, { reason: 'stale_plan', action: 'POST /v1/config/plan with the document again, review, apply the new plan.' });

/** The row writes of a diff, in an order the references allow: pools before the IPs bound to them, IPs before the pools they leave. */
async function writesFor(deps: AppDeps, tenantId: string, actor: AuditActor, changes: ConfigChange[], live: LiveConfig, desired: ConfigState, now: number) {
  const first: ConfigWrite[] = [];
  const ipDeletes: ConfigWrite[] = [];
  const ipUpserts: ConfigWrite[] = [];
  const last: ConfigWrite[] = [];
  const webhookSecrets: Record<string, string> = {};
  let policyChanged = false;
  for (const c of changes) {
    switch (c.kind) {
      case 'pool': {
        const p = desired.pools?.[c.id];
        if (c.action === 'delete') last.push({ kind: 'pool', op: 'delete', name: c.id });
        else first.push({ kind: 'pool', op: c.action === 'create' ? 'create' : 'update', pool: { name: c.id, tenantId: p!.tenant, description: p!.description, createdAt: now } });
        break;
      }
      case 'ip': {
        const ip = desired.ips?.[c.id];
        if (c.action === 'delete') ipDeletes.push({ kind: 'ip', op: 'delete', address: c.id });
        else ipUpserts.push({ kind: 'ip', op: 'upsert', ip: { address: c.id, pool: ip!.pool, nodeTokenId: ip!.node_token, status: ip!.status, createdAt: now, updatedAt: now } });
        break;
      }
      case 'domain': {
        const id = live.domainIds.get(c.id);
        if (c.action === 'delete') last.push({ kind: 'domain', op: 'delete', tenantId, id: id! });
        else if (c.action === 'change') last.push({ kind: 'domain', op: 'update', tenantId, id: id!, returnPathDomain: desired.domains[c.id].return_path_domain });
        else last.push({ kind: 'domain', op: 'create', row: await newDomainRow(deps, tenantId, c.id, desired, now) });
        break;
      }
      case 'webhook': {
        const id = live.webhookIds.get(c.id);
        const w = desired.webhooks[c.id];
        if (c.action === 'delete') last.push({ kind: 'webhook', op: 'delete', tenantId, id: id! });
        else if (c.action === 'change') last.push({ kind: 'webhook', op: 'update', tenantId, id: id!, patch: { eventTypes: w.event_types, lanes: w.lanes, domains: w.domains, enabled: w.enabled, description: w.description }, now });
        else {
          const secret = newWebhookSecret();
          webhookSecrets[c.id] = secret;
          last.push({ kind: 'webhook', op: 'create', row: { id: newId('whk', now), tenantId, url: c.id, description: w.description, eventTypes: w.event_types, lanes: w.lanes, domains: w.domains, enabled: w.enabled, secretEnc: await deps.secrets.seal(secret), previousSecretEnc: null, previousSecretExpiresAt: null, nextSequence: 1, consecutiveFailures: 0, failingSince: null, disabledReason: null, disabledAt: null, createdAt: now, updatedAt: now } });
        }
        break;
      }
      case 'lane':
      case 'policy':
        policyChanged = true;
        break;
    }
  }
  if (policyChanged) last.push({ kind: 'policy', op: 'put', tenantId, document: policyDocumentOf(desired), updatedBy: actor.keyId, now });
  return { writes: [...first, ...ipDeletes, ...ipUpserts, ...last], webhookSecrets };
}

async function newDomainRow(deps: AppDeps, tenantId: string, domain: string, desired: ConfigState, now: number): Promise<SendingDomainRecord> {
  const d = desired.domains[domain];
  const key = await generateDkimKey(d.dkim_algorithm);
  return {
    id: newId('dom', now),
    tenantId,
    domain,
    dkimSelector: selectorFor(new Date(now)),
    dkimAlgorithm: d.dkim_algorithm,
    dkimPrivateKeyEnc: await deps.secrets.seal(key.privateKeyPem),
    dkimPublicKey: key.publicKey,
    returnPathDomain: d.return_path_domain,
    status: 'pending',
    createdAt: now,
    verifyToken: newVerifyToken(),
    checks: null,
    checkedAt: null,
    verifiedAt: null,
  };
}
