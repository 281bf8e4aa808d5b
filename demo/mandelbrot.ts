/** Where the camera looks: the complex point at the canvas centre and the size of one pixel. */
export interface View {
  cx: number;
  cy: number;
  /** Complex units per canvas pixel. */
  scale: number;
}

/** One tile to render: its place on the canvas and everything the worker needs, as plain data. */
export interface TileRequest {
  /** The render generation it belongs to: results of an older view are dropped. */
  gen: number;
  tx: number;
  ty: number;
  /** Top-left pixel and size of the tile on the canvas. */
  x: number;
  y: number;
  w: number;
  h: number;
  /** Canvas size, so the worker can centre the view. */
  width: number;
  height: number;
  view: View;
  maxIter: number;
  /** Samples per pixel side: 2 means 4 samples a pixel. */
  aa: number;
}

/** A rendered tile: where it goes (as requested) and its pixels. */
export interface TileResult extends Pick<TileRequest, 'gen' | 'tx' | 'ty' | 'x' | 'y' | 'w' | 'h'> {
  /** RGBA, w × h × 4 bytes, transferred back rather than copied. */
  pixels: ArrayBuffer;
}

/** A spiral in the seahorse valley: detailed everywhere, no flat black. */
export const DEFAULT_VIEW: View = { cx: -0.7436, cy: 0.1318, scale: 0.000012 };

const LN2 = Math.log(2);

/** A smooth escape count: fractional iterations, or -1 inside the set. */
function escapeTime(cr: number, ci: number, maxIter: number): number {
  let zr = 0;
  let zi = 0;
  let zr2 = 0;
  let zi2 = 0;
  let n = 0;
  while (n < maxIter && zr2 + zi2 <= 256) {
    zi = 2 * zr * zi + ci;
    zr = zr2 - zi2 + cr;
    zr2 = zr * zr;
    zi2 = zi * zi;
    n++;
  }
  if (n >= maxIter) return -1;
  return n + 1 - Math.log(Math.log(zr2 + zi2) / 2 / LN2) / LN2;
}

/** A cosine palette (deep blue → teal → gold → white), periodic in `t`. */
function colour(t: number, out: Float64Array): void {
  if (t < 0) {
    out[0] = 6;
    out[1] = 8;
    out[2] = 16;
    return;
  }
  const s = Math.sqrt(t) * 0.21;
  out[0] = 255 * (0.5 + 0.5 * Math.cos(6.2832 * (s + 0.0)));
  out[1] = 255 * (0.5 + 0.5 * Math.cos(6.2832 * (s + 0.15)));
  out[2] = 255 * (0.5 + 0.5 * Math.cos(6.2832 * (s + 0.3)));
}

/**
 * Renders rows `[y0, y1)` of a tile into `pixels`. Split by rows so the worker can report progress
 * and notice cancellation between slices.
 */
export function renderRows(req: TileRequest, pixels: Uint8ClampedArray, y0: number, y1: number): void {
  const { view, width, height, aa, maxIter } = req;
  const rgb = new Float64Array(3);
  const step = view.scale / aa;
  const samples = aa * aa;
  for (let py = y0; py < y1; py++) {
    for (let px = 0; px < req.w; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const X = req.x + px - width / 2;
      const Y = req.y + py - height / 2;
      for (let sy = 0; sy < aa; sy++)
        for (let sx = 0; sx < aa; sx++) {
          colour(escapeTime(view.cx + X * view.scale + (sx + 0.5) * step, view.cy + Y * view.scale + (sy + 0.5) * step, maxIter), rgb);
          r += rgb[0] as number;
          g += rgb[1] as number;
          b += rgb[2] as number;
        }
      const i = (py * req.w + px) * 4;
      pixels[i] = r / samples;
      pixels[i + 1] = g / samples;
      pixels[i + 2] = b / samples;
      pixels[i + 3] = 255;
    }
  }
}
