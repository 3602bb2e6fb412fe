// Test projects: `unit` (pure, fast) and `integration` (real Postgres, Redis and processes).
import { defineConfig } from 'vitest/config';

const where = '{packages,services,apps}/*/test';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [`${where}/unit/**/*.test.ts`],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: [`${where}/integration/**/*.test.ts`],
          globalSetup: ['test-support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
          maxWorkers: 2,
          // Unit tests first; integration suites run afterwards, two files at a time.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
