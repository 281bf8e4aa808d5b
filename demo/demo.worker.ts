/**
 * The demo's worker module: real work (fractal tiles and the picture they assemble into), the
 * workflow kinds (a scheduled stats run, rate-limited uploads, an online-only sync) and the
 * misbehaving kinds a scheduler must survive (flaky, hung, crashing).
 */
import { defineTasks, NonRetryableError } from '../src/worker.js';
import { renderRows, type TileRequest, type TileResult } from './mandelbrot.js';

/** What `assemble` is given: the picture it belongs to and the tiles it waits for, in `dependsOn` order. */
export interface AssembleInput {
  gen: number;
  width: number;
  height: number;
  /** The thumbnail is the picture shrunk by this factor. */
  scale: number;
  /** [tx, ty] of each tile it depends on, in the order of its `dependsOn` (the page reads it back after a reload). */
  tiles: [number, number][];
}

/** The assembled picture: a thumbnail built from every tile's pixels, and how many tiles made it. */
export interface AssembleResult {
  gen: number;
  w: number;
  h: number;
  pixels: ArrayBuffer;
  tiles: number;
  failed: number;
}

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

  /**
   * The picture's last step: it waits for every tile (`dependsOn`, each `on: 'completion'`) and gets
   * their results in `ctx.dependencies` (a tile that failed comes as an Error), from which it builds a
   * thumbnail: proof that the data flowed forward, not just the order.
   */
  assemble(input: AssembleInput, ctx): AssembleResult {
    const w = Math.ceil(input.width / input.scale);
    const h = Math.ceil(input.height / input.scale);
    const sums = new Float64Array(w * h * 3);
    const counts = new Uint32Array(w * h);
    let tiles = 0;
    let failed = 0;
    for (const value of Object.values(ctx.dependencies)) {
      const tile = value as TileResult | Error;
      if (tile instanceof Error) {
        failed++;
        continue;
      }
      if (tile.gen !== input.gen) continue;
      tiles++;
      const px = new Uint8ClampedArray(tile.pixels);
      for (let y = 0; y < tile.h; y++)
        for (let x = 0; x < tile.w; x++) {
          const cell = Math.floor((tile.y + y) / input.scale) * w + Math.floor((tile.x + x) / input.scale);
          const i = (y * tile.w + x) * 4;
          for (let c = 0; c < 3; c++) sums[cell * 3 + c] = (sums[cell * 3 + c] ?? 0) + (px[i + c] ?? 0);
          counts[cell] = (counts[cell] ?? 0) + 1;
        }
    }
    const out = new Uint8ClampedArray(w * h * 4);
    for (let cell = 0; cell < w * h; cell++) {
      const n = counts[cell] || 1;
      out[cell * 4] = (sums[cell * 3] ?? 0) / n;
      out[cell * 4 + 1] = (sums[cell * 3 + 1] ?? 0) / n;
      out[cell * 4 + 2] = (sums[cell * 3 + 2] ?? 0) / n;
      out[cell * 4 + 3] = counts[cell] ? 255 : 0;
    }
    return ctx.transfer({ gen: input.gen, w, h, pixels: out.buffer, tiles, failed }, [out.buffer]);
  },

  /** The repeating task (`scheduler.schedule(..., { every: 10_000 })`): a short job; the page shows each run. */
  async stats(_input: null, ctx): Promise<number> {
    await busyFor(150, ctx);
    return Date.now();
  },

  /** An "upload" in the rate-limited `upload` group (2 starts a second, one at a time). */
  async upload(input: { n: number; ms: number }, ctx): Promise<number> {
    await busyFor(input.ms, ctx);
    return input.n;
  },

  /** Needs the network (`requires: 'online'`): it waits, holding no worker, while the browser is offline. */
  async sync(input: { n: number }, ctx): Promise<string> {
    await busyFor(300, ctx);
    return `synced #${input.n}`;
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
