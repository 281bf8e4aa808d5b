/**
 * The demo's worker module: real work (fractal tiles) and the misbehaving kinds a scheduler must
 * survive (flaky, hung, crashing).
 */
import { defineTasks, NonRetryableError } from '../src/worker.js';
import { renderRows, type TileRequest, type TileResult } from './mandelbrot.js';

/** Lets the worker's event loop turn, so an abort from the main thread can land. Faster than setTimeout(0). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Waits `ms`, reporting progress and honouring the signal. */
async function busyFor(ms: number, ctx: { signal: AbortSignal; progress(value: number): void }): Promise<void> {
  const start = performance.now();
  for (;;) {
    const elapsed = performance.now() - start;
    ctx.progress(elapsed / ms);
    if (elapsed >= ms) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, Math.min(50, ms - elapsed));
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        },
        { once: true },
      );
    });
  }
}

export const tasks = defineTasks({
  /** Renders one tile of the fractal; the pixels go back transferred, not copied. */
  async tile(input: TileRequest, ctx): Promise<TileResult> {
    const pixels = new Uint8ClampedArray(input.w * input.h * 4);
    const slice = 4;
    for (let y = 0; y < input.h; y += slice) {
      ctx.signal.throwIfAborted();
      renderRows(input, pixels, y, Math.min(input.h, y + slice));
      ctx.progress((y + slice) / input.h);
      await yieldToEventLoop();
    }
    const { gen, tx, ty, x, y, w, h } = input;
    return ctx.transfer({ gen, tx, ty, x, y, w, h, pixels: pixels.buffer }, [pixels.buffer]);
  },

  /** Generic background work of a given length, for bursts and delayed tasks. */
  async crunch(input: { ms: number }, ctx): Promise<number> {
    await busyFor(input.ms, ctx);
    return input.ms;
  },

  /** Works a while, then fails with probability `p`: retries, and the dead-letter set when out of attempts. */
  async flaky(input: { p: number; ms: number }, ctx): Promise<string> {
    await busyFor(input.ms, ctx);
    if (input.p >= 1) throw new NonRetryableError('configured to always fail');
    if (Math.random() < input.p) {
      const error = new Error(`upstream said 503 on attempt ${ctx.attempt}`) as Error & { code: string };
      error.code = 'E_UPSTREAM';
      throw error;
    }
    return `ok on attempt ${ctx.attempt}`;
  },

  /** Spins without ever looking at its signal: only the timeout and a worker terminate stop it. */
  hang(input: { ms: number }): string {
    const end = performance.now() + input.ms;
    while (performance.now() < end) {
      // busy
    }
    return 'survived';
  },

  /** Closes its own worker mid-task, as an out-of-memory kill or a crash would. */
  crash(_input: null): Promise<never> {
    setTimeout(() => self.close(), 150);
    return new Promise(() => {});
  },
});

export type Tasks = typeof tasks;
