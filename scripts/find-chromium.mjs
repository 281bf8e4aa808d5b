// Finds the Chromium the browser tests drive; exits 1 with one line saying how to get it.
import { existsSync } from 'node:fs';

export function findChromium() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  return candidates.find((p) => existsSync(p));
}

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-precise-memory-info',
];

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!findChromium()) {
    console.error(
      'tasklane: Chromium not found: install it (Debian: sudo apt-get install -y chromium) or set CHROMIUM_PATH=/path/to/chromium',
    );
    process.exit(1);
  }
}
