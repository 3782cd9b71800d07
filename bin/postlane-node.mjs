#!/usr/bin/env node
// `npx postlane-node --edge wss://… --token … --region eu --ip 192.0.2.10=default`: an MTA node
// (mta-node/main.ts; flags and environment in mta-node/config.ts), through tsx like the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../mta-node/main.ts');
