/** Small statistics and the result row every case reports. */

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Linear-interpolated percentile of `xs` (0..100). NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

/** Half the min–max range relative to the median: `0.05` reads "±5 %". */
export function spread(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = median(xs);
  if (!Number.isFinite(m) || m === 0) return null;
  return (Math.max(...xs) - Math.min(...xs)) / 2 / Math.abs(m);
}

/**
 * How a row passes.
 * - `cost`: ratio = ours / baseline (lower is better), pass when ratio <= max.
 * - `speedup`: ratio = baseline / ours (higher is better), pass when ratio >= min.
 * - `max`: an absolute bound on ours (same unit); ratio = ours / baseline when there is one.
 * - `info`: reported, not judged.
 */
export type Target =
  | { kind: 'cost'; max: number }
  | { kind: 'speedup'; min: number }
  | { kind: 'max'; max: number; ratio?: 'cost' | 'speedup' }
  | { kind: 'info'; ratio?: 'cost' | 'speedup' };

export interface Row {
  id: string;
  title: string;
  /** Median of our runs (null when the case could not run). */
  ours: number | null;
  /** Median of the baseline's runs. */
  baseline: number | null;
  baselineName: string;
  unit: string;
  ratio: number | null;
  /** Human-readable target, e.g. `ours/base <= 1.30`. */
  target: string;
  pass: boolean | null;
  runs: { n: number; ours: number[]; baseline: number[]; oursSpread: number | null; baselineSpread: number | null };
  /** What the reader should know: how it was measured, why it is n/a. */
  note?: string;
}

export interface RowSpec {
  id: string;
  title: string;
  unit: string;
  baselineName: string;
  target: Target;
  ours: number[];
  baseline: number[];
  note?: string;
}

function targetText(t: Target, unit: string): string {
  switch (t.kind) {
    case 'cost':
      return `ours/base <= ${t.max.toFixed(2)}`;
    case 'speedup':
      return `base/ours >= ${t.min.toFixed(2)}`;
    case 'max':
      return `ours <= ${t.max} ${unit}`;
    case 'info':
      return 'info';
  }
}

export function makeRow(spec: RowSpec): Row {
  const ours = spec.ours.length ? median(spec.ours) : null;
  const baseline = spec.baseline.length ? median(spec.baseline) : null;
  const t = spec.target;
  let ratio: number | null = null;
  if (ours !== null && baseline !== null && baseline !== 0 && ours !== 0) {
    const speedup = t.kind === 'speedup' || ((t.kind === 'info' || t.kind === 'max') && t.ratio === 'speedup');
    ratio = speedup ? baseline / ours : ours / baseline;
  }
  let pass: boolean | null = null;
  if (ours !== null) {
    if (t.kind === 'cost') pass = ratio !== null && ratio <= t.max;
    else if (t.kind === 'speedup') pass = ratio !== null && ratio >= t.min;
    else if (t.kind === 'max') pass = ours <= t.max;
  }
  const row: Row = {
    id: spec.id,
    title: spec.title,
    ours,
    baseline,
    baselineName: spec.baselineName,
    unit: spec.unit,
    ratio,
    target: targetText(t, spec.unit),
    pass,
    runs: {
      n: Math.max(spec.ours.length, spec.baseline.length),
      ours: spec.ours,
      baseline: spec.baseline,
      oursSpread: spread(spec.ours),
      baselineSpread: spread(spec.baseline),
    },
  };
  if (spec.note) row.note = spec.note;
  return row;
}
