/**
 * The Worker bundle's zod (edge/adapters/zod-worker.ts, mapped by wrangler.toml's [alias]) is
 * zod without its locales: the same names at the top and in `z.core`, `locales` holding only
 * `en`, and English messages configured. Fails when a zod upgrade adds, drops or renames an
 * export the mirror files do not follow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zod from 'zod';
import * as worker from '../../edge/adapters/zod-worker.ts';

const names = (o: object) => Object.keys(o).sort();

test('the Worker zod exports what zod exports', () => {
  assert.deepEqual(names(worker), names(zod));
  assert.deepEqual(names(worker.core), names(zod.core));
  assert.deepEqual(names(worker.locales), ['en']);
  assert.deepEqual(names(worker.core.locales), ['en']);
  assert.equal(worker.z.core, worker.core);
  assert.equal(worker.default, worker.z);
});

test('the Worker zod is the same zod: same classes, English messages', () => {
  assert.equal(worker.ZodString, zod.ZodString);
  assert.equal(worker.core.$ZodType, zod.core.$ZodType);
  const r = worker.z.string().min(3).safeParse('a');
  assert.equal(r.success, false);
  assert.match(r.error!.issues[0].message, /Too small: expected string to have >=3 characters/);
});
