import { defineConfig } from 'vitest/config';

/**
 * The operations tests: real server processes killed, PostgreSQL restarted, a disk made full or
 * read-only, several nodes behind nginx. One file at a time: each one loads the machine and
 * some change what the others would share.
 */
export default defineConfig({
  test: {
    include: ['test/ops/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
