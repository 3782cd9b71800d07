/**
 * Lanes and job states, named once. `LANES` is in service order: the first lane is served first
 * (SPEC §4: transactional never waits on marketing). The scheduler, the claim's ORDER BY, the
 * node's session priority and the API all derive from these lists.
 */
export const LANES = ['transactional', 'lifecycle', 'outreach'] as const;
export type Lane = (typeof LANES)[number];

/** A lane's place in service order, 0 first. */
export const LANE_RANK: Readonly<Record<Lane, number>> = Object.fromEntries(LANES.map((lane, i) => [lane, i])) as Record<Lane, number>;

/**
 * Every state a delivery job can be in. `held`: accepted but waiting for an operator's approval
 * (a rogue batch, SPEC §7); the claim takes only `queued` jobs, so the hub never leases it.
 * `rejected`: a held job the operator refused; final, never sent.
 * `canceled`: the sender canceled the message before any of its jobs was leased; final, never sent.
 */
export const JOB_STATES = ['queued', 'leased', 'delivered', 'bounced', 'failed', 'suppressed', 'held', 'rejected', 'canceled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a delivery result may still move a job out of. */
export const OPEN_JOB_STATES = ['leased', 'queued'] as const satisfies readonly JobState[];

/** What a node reports for one attempt (the lease protocol's `outcome`). */
export const DELIVERY_OUTCOMES = ['delivered', 'deferred', 'bounced'] as const;
export type DeliveryOutcomeName = (typeof DELIVERY_OUTCOMES)[number];
