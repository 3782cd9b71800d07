/**
 * Postlane's reputation policy: pure, I/O-free functions and the data they apply. Runs on Node
 * and in Cloudflare Workers alike; time and randomness are always parameters.
 */
export * from './units.ts';
export * from './providers.ts';
export * from './classifier.ts';
export * from './retry.ts';
export * from './token-bucket.ts';
export * from './aimd.ts';
export * from './breaker.ts';
export * from './warmup.ts';
export * from './scheduler.ts';
export * from './constraints.ts';
export * from './defaults.ts';
