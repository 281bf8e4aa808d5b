import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
// @ts-expect-error plain ESM helper shared with the bench and CI scripts
import { CHROMIUM_FLAGS, findChromium } from './scripts/find-chromium.mjs';

const executablePath: string | undefined = findChromium();

export default defineConfig({
  // Pre-bundled up front: discovering them mid-run makes Vite reload the page under a running test.
  optimizeDeps: { include: ['lit', 'lit/directives/repeat.js', 'idb', 'comlink', 'croner'] },
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          fileParallelism: false,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              // --expose-gc: lifecycle tests check that a closed scheduler is collected.
              launchOptions: { executablePath, args: [...CHROMIUM_FLAGS, '--js-flags=--expose-gc'] },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
