/**
 * What the warm-up API (edge/routes/warmups.ts) uses of the warm-up gate's facts: the plan day's
 * length, how a warm-up's target is named in events, and a provider's day-1 state. The routes
 * reach the hub only through the LeaseHubPort (live counts) and through this module.
 *
 * They are pure facts of a warm-up, defined beside the gate that enforces them (edge/hub/warmup.ts);
 * when the warm-up records settle in edge/domain or shared/policy/warmup.ts they belong there.
 */
export { DAY_MS, describeTarget, initialProviderState } from '../hub/warmup.ts';
