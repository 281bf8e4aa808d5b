import { defineConfig } from 'vitest/config';
// @ts-expect-error plain ESM provider (puppeteer-core over WebDriver BiDi), shared with nothing else
import { firefox } from './scripts/firefox-provider.mjs';

// The browser suite (test/browser) in the stock Firefox ESR, headless, through scripts/test-firefox.mjs
// (`npm run test:firefox`). Every test runs except those needing a Chromium-only API, listed here by name:
// a renamed one then runs in Firefox and fails loudly rather than being skipped quietly.
export const CHROMIUM_ONLY = [
  // A forced collection (gc(), Chromium's --js-flags=--expose-gc): Firefox exposes none to a page.
  'a closed scheduler is garbage-collected',
  'a trimmed task of a big batch keeps no input alive',
  'keeps nothing per laned task it visits',
  // A 1 MiB quota from the Storage Buckets API (navigator.storageBuckets), which Firefox lacks; the same
  // scenario runs under Firefox's own quota in test/firefox/quota.test.ts.
  'a failed commit (QuotaExceededError)',
  // storage-faults.test.ts: Chromium's DevTools protocol clears site data and sets the quota (CDP
  // Storage.clearDataForOrigin, Storage.overrideQuotaForOrigin), plus Storage Buckets; and
  // navigator.storage.persist(), which Firefox answers only after asking the user.
  'the browser closes the connection mid-run',
  'quota exhausted',
  'persist: true asks for persistent storage',
];
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default defineConfig({
  optimizeDeps: { include: ['lit', 'lit/directives/repeat.js', 'idb', 'comlink', 'croner'] },
  test: {
    name: 'firefox',
    // With FIREFOX_QUOTA_KB (a second run, with storage limited): the Firefox-only tests of test/firefox.
    include: (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.FIREFOX_QUOTA_KB
      ? ['test/firefox/**/*.test.ts']
      : ['test/browser/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    fileParallelism: false,
    testNamePattern: new RegExp(`^(?!.*(?:${CHROMIUM_ONLY.map(literal).join('|')}))`),
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: firefox(),
      instances: [{ browser: 'firefox' }],
    },
  },
});
