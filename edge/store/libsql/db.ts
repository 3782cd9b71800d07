/** What every part of the libSQL store shares: the database type, statement chunking, error shapes. */
import type { LibSQLDatabase } from 'drizzle-orm/libsql/driver-core';
import type { Client, InStatement } from '@libsql/client';
import type { NewMessageEvent } from '../../ports/store.ts';
import * as schema from '../schema.ts';
import { rowInserter } from '../rows.ts';

/** The drizzle database with its libSQL client: the hot write paths talk to the client directly. */
export type PostlaneDb = LibSQLDatabase<typeof schema> & { $client: Client };

/** Rows per INSERT statement, well under SQLite's bound-parameter limit. */
export const INSERT_CHUNK = 200;

export function chunks<T>(items: T[], size = INSERT_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function isUniqueViolation(error: unknown, table: string): boolean {
  // libSQL wraps SQLite's "UNIQUE constraint failed: <table>.<col>" (or PRIMARY KEY) in its
  // own error and drizzle wraps that again; search the whole cause chain.
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++) {
    const msg = String((e as Error).message ?? '');
    if (/constraint failed/i.test(msg) && msg.includes(`${table}.`)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const eventInserter = rowInserter(schema.messageEvents);

/** Trace events as multi-row INSERTs: accepts, transitions and feedback all write them. */
export function eventStatements(events: readonly NewMessageEvent[]): InStatement[] {
  return eventInserter.statements(events, INSERT_CHUNK);
}
