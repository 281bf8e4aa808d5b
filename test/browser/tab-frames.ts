import type { TabApi } from './fixtures/tab-frame.js';
import { FRAME_PRELUDE } from './helpers.js';

/** Test tabs opened and not yet removed: `removeTabs()` after each test. */
const frames: HTMLIFrameElement[] = [];
let count = 0;

/**
 * Opens a test tab: an iframe of this page (same origin, so it shares Web Locks, BroadcastChannels
 * and IndexedDB with the page and its other tabs) running `fixtures/tab-frame.ts`. Removing its
 * frame is the tab closing or crashing.
 */
export async function openTab(): Promise<{ frame: HTMLIFrameElement; api: TabApi }> {
  const id = `tab${count++}-${Math.random().toString(36).slice(2, 6)}`;
  const frame = document.createElement('iframe');
  const module = new URL('./fixtures/tab-frame.ts', import.meta.url).href;
  frame.srcdoc = `${FRAME_PRELUDE}<script>window.tabId=${JSON.stringify(id)}</script><script type="module">import ${JSON.stringify(module)};</script>`;
  const ready = new Promise<void>((resolve) => {
    const onMessage = (event: MessageEvent) => {
      if ((event.data as { tabReady?: string })?.tabReady !== id) return;
      window.removeEventListener('message', onMessage);
      resolve();
    };
    window.addEventListener('message', onMessage);
  });
  document.body.append(frame);
  frames.push(frame);
  await ready;
  return { frame, api: (frame.contentWindow as unknown as { tab: TabApi }).tab };
}

/** Removes every test tab still open. */
export function removeTabs(): void {
  for (const frame of frames.splice(0)) frame.remove();
}
