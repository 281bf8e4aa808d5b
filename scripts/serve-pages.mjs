// What the scripts that drive real pages share: the system Chromium (or a one-line exit), and a
// Vite server of the repository's pages (the demo at /, test/pages/) that never reloads a page mid-run.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { findChromium } from './find-chromium.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The Chromium to launch; exits with a one-line message when there is none. */
export function requireChromium() {
  const executablePath = findChromium();
  if (!executablePath) {
    console.error('tasklane: Chromium not found: install it or set CHROMIUM_PATH=/path/to/chromium');
    process.exit(1);
  }
  return executablePath;
}

/** Serves the repository on 127.0.0.1 (from `port` up); resolves with its URL and a `close`. */
export async function servePages(port) {
  const server = await createServer({
    root,
    configFile: resolve(root, 'vite.config.ts'),
    logLevel: 'warn',
    // No HMR and no watching: an edit elsewhere in the repo must not reload the page mid-run.
    server: { port, strictPort: false, host: '127.0.0.1', hmr: false, watch: { ignored: ['**'] } },
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) {
    await server.close();
    throw new Error('vite did not report a local URL');
  }
  return { url, close: () => server.close() };
}
