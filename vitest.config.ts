import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The operations tests (faults, several nodes behind nginx) kill processes and restart
    // databases: they run alone, afterwards, with vitest.ops.config.ts.
    exclude: ['test/ops/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: two workers keep both busy without thrashing Argon2 and RSA key generation.
    maxWorkers: 2,
  },
});
