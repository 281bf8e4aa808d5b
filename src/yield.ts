/**
 * Resolves in a later task of the event loop, so a long loop can let the page handle input and
 * paint between its slices (no long task). Uses `scheduler.yield()` where the browser has it (the
 * continuation keeps its place ahead of other queued tasks), else a MessageChannel message, which
 * nested setTimeout's 4 ms clamp and background-tab throttling do not touch.
 */
export function yieldToEventLoop(): Promise<void> {
  const platform = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof platform?.yield === 'function') return platform.yield();
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 1) (channel ??= openChannel()).port2.postMessage(null);
  });
}

let channel: MessageChannel | undefined;
let waiting: (() => void)[] = [];

function openChannel(): MessageChannel {
  const c = new MessageChannel();
  c.port1.onmessage = () => {
    const ready = waiting;
    waiting = [];
    for (const resolve of ready) resolve();
  };
  return c;
}
