/** The event catalog: message events (a message's trace), policy events (shaping state changes) and alert events (webhooks only). */
export * from './message.ts';
export * from './policy.ts';
export * from './alert.ts';
