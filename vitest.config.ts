import { defineConfig } from 'vitest/config';

/** What both projects share. */
const common = {
  // Native addons can crash worker threads; forks isolate each file in its own process.
  pool: 'forks',
  testTimeout: 120_000,
  hookTimeout: 300_000,
} as const;

export default defineConfig({
  test: {
    projects: [
      // Every test, with the queue on SQLite (the default).
      { test: { ...common, name: 'sqlite', include: ['test/**/*.test.ts'], globalSetup: ['test/setup/global.ts'] } },
      // The whole stream suite again with the queue on PostgreSQL (issue 14): one real server for
      // the project (test/setup/postgres-global.ts), a fresh database per queue (test/stream/backend.ts).
      // Alone: `npx vitest run --project stream-postgres`.
      {
        test: {
          ...common,
          name: 'stream-postgres',
          include: ['test/stream/**/*.test.ts'],
          env: { CONTIMG_TEST_BACKEND: 'postgres' },
          globalSetup: ['test/setup/global.ts', 'test/setup/postgres-global.ts'],
        },
      },
    ],
  },
});
