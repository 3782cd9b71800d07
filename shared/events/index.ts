/** The event catalog: message events (a message's trace) and policy events (shaping state changes). */
export * from './message.ts';
export * from './policy.ts';
