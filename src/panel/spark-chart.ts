import { html, type TemplateResult } from 'lit';

export interface SparkChartOptions {
  /** What the chart shows, read by screen readers in place of the picture. */
  label: string;
  kind: 'bars' | 'area';
  width?: number;
  height?: number;
  /** Class for colouring with the panel's CSS. */
  tone?: string;
}

/**
 * A small inline SVG chart of `values` (oldest first), scaled to its own maximum. One `<path>`
 * however many points, so re-rendering it every frame costs one attribute write.
 */
export function sparkChart(values: readonly number[], options: SparkChartOptions): TemplateResult {
  const width = options.width ?? 240;
  const height = options.height ?? 44;
  const n = values.length;
  const max = Math.max(1, ...values);
  const step = n > 0 ? width / n : width;
  const y = (v: number) => height - 1 - (v / max) * (height - 4);
  let d = '';
  if (options.kind === 'bars') {
    const w = Math.max(1, step - 1);
    values.forEach((v, i) => {
      if (v <= 0) return;
      const top = y(v);
      d += `M${(i * step).toFixed(1)} ${height}V${top.toFixed(1)}h${w.toFixed(1)}V${height}Z`;
    });
  } else if (n > 0) {
    d = `M0 ${height}`;
    values.forEach((v, i) => {
      d += `L${(i * step + step / 2).toFixed(1)} ${y(v).toFixed(1)}`;
    });
    d += `L${width} ${y(values[n - 1] as number).toFixed(1)}L${width} ${height}Z`;
  }
  return html`<svg class="chart ${options.tone ?? ''}" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label=${options.label}>
    <line class="baseline" x1="0" y1=${height - 0.5} x2=${width} y2=${height - 0.5}></line>
    <path d=${d}></path>
  </svg>`;
}
