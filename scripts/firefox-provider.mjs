// A Vitest browser provider that drives the stock Firefox ESR (Debian `firefox-esr`) headless through
// puppeteer-core over WebDriver BiDi. Why not the stock providers: Playwright's patched Firefox cannot be
// downloaded here, and Playwright driving the stock ESR fails at newContext
// (`emulation.setMediaFeaturesOverride: unknown command`); @vitest/browser-webdriverio needs geckodriver,
// which Debian does not package. Vitest only needs a provider to open a page at a URL (the page talks to
// Vitest over its own WebSocket); userEvent.keyboard is the one command the suite uses, done here with
// puppeteer's keyboard (BiDi input.performActions).
import { existsSync } from 'node:fs';
import { defineBrowserProvider, parseKeyDef } from '@vitest/browser';

export function findFirefox() {
  const candidates = [process.env.FIREFOX_PATH, '/usr/bin/firefox-esr', '/usr/bin/firefox'].filter(Boolean);
  return candidates.find((p) => existsSync(p));
}

// Keys puppeteer presses as keys; anything else (a printable character) is typed as text.
const NAMED_KEYS = new Set([
  'Enter',
  'Escape',
  'Tab',
  'Backspace',
  'Delete',
  'Space',
  'ArrowUp',
  'ArrowDown',
  'ArrowLeft',
  'ArrowRight',
  'Home',
  'End',
  'Shift',
  'Control',
  'Alt',
  'Meta',
]);

async function keyboard(context, text, state) {
  const page = context.provider.getPage(context.sessionId);
  const pressed = new Set(state?.unreleased ?? []);
  for (const { releasePrevious, releaseSelf, repeat, keyDef } of parseKeyDef(text)) {
    const key = keyDef.key;
    if (pressed.has(key)) {
      if (NAMED_KEYS.has(key)) await page.keyboard.up(key);
      pressed.delete(key);
    }
    if (releasePrevious) continue;
    for (let i = 0; i < repeat; i++) {
      if (NAMED_KEYS.has(key)) await page.keyboard.down(key);
      else await page.keyboard.sendCharacter(key);
    }
    if (releaseSelf) {
      if (NAMED_KEYS.has(key)) await page.keyboard.up(key);
    } else pressed.add(key);
  }
  return { unreleased: [...pressed] };
}

async function keyboardCleanup(context, state) {
  const page = context.provider.getPage(context.sessionId);
  for (const key of state?.unreleased ?? []) if (NAMED_KEYS.has(key)) await page.keyboard.up(key);
}

class FirefoxProvider {
  name = 'puppeteer-firefox';
  supportsParallelism = false;
  browser = null;
  pages = new Map();

  constructor(project, options) {
    this.project = project;
    this.options = options;
    project.browser.registerCommand('__vitest_keyboard', keyboard);
    project.browser.registerCommand('__vitest_cleanup', keyboardCleanup);
  }

  async openBrowser() {
    if (!this.browserPromise) {
      this.browserPromise = (async () => {
        const { default: puppeteer } = await import('puppeteer-core');
        const executablePath = this.options.executablePath ?? findFirefox();
        if (!executablePath) throw new Error('tasklane: Firefox not found: sudo apt-get install -y firefox-esr, or set FIREFOX_PATH');
        this.browser = await puppeteer.launch({
          browser: 'firefox',
          executablePath,
          headless: this.project.config.browser.headless !== false,
          protocolTimeout: 120_000,
          extraPrefsFirefox: { ...(this.options.prefs ?? {}), ...quotaPrefs() },
        });
        return this.browser;
      })();
    }
    return this.browserPromise;
  }

  getPage(sessionId) {
    const page = this.pages.get(sessionId);
    if (!page) throw new Error(`Page "${sessionId}" not found in Firefox.`);
    return page;
  }

  getCommandsContext(sessionId) {
    return { page: this.getPage(sessionId) };
  }

  async openPage(sessionId, url) {
    const browser = await this.openBrowser();
    const old = this.pages.get(sessionId);
    if (old) await old.close().catch(() => {});
    const page = await browser.newPage();
    this.pages.set(sessionId, page);
    await page.goto(url, { timeout: 0 });
  }

  async close() {
    const browser = this.browser ?? (this.browserPromise ? await this.browserPromise.catch(() => null) : null);
    this.browser = null;
    this.pages.clear();
    await browser?.close().catch(() => {});
  }
}

export function firefox(options = {}) {
  return defineBrowserProvider({
    name: 'puppeteer-firefox',
    supportedBrowser: ['firefox'],
    options,
    providerFactory(project) {
      return new FirefoxProvider(project, options);
    },
  });
}

// FIREFOX_QUOTA_KB limits temporary storage (IndexedDB) for the run, for test/firefox/quota.test.ts.
function quotaPrefs() {
  const kb = Number(process.env.FIREFOX_QUOTA_KB);
  return kb > 0 ? { 'dom.quotaManager.temporaryStorage.fixedLimit': kb } : {};
}
