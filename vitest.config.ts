import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addons can crash worker threads; forks isolate each file in its own process.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    globalSetup: ['test/setup/global.ts'],
  },
});
