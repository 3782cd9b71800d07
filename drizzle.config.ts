import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'turso',
  schema: './edge/store/schema.ts',
  out: './migrations',
});
