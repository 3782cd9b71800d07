#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (a dependency), so `npx postlane` works from a clone and
// after `npm install -g` without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./postlane.ts');
