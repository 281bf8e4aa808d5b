import { css } from 'lit';

/**
 * The panel's look. Every colour is a custom property, so a host page can theme it:
 * `tasklane-panel { --tl-bg: white; --tl-text: #111; … }`.
 */
export const panelStyles = css`
  :host {
    --tl-bg: #0e1217;
    --tl-surface: #161c23;
    --tl-surface-2: #1d252e;
    --tl-border: #29323d;
    --tl-text: #e6eaef;
    --tl-muted: #8c97a4;
    --tl-accent: #4da3ff;
    --tl-ok: #3fb950;
    --tl-warn: #d6a02a;
    --tl-bad: #f26b62;
    --tl-retry: #bc8cff;
    --tl-p0: #f26b62;
    --tl-p1: #f39c45;
    --tl-p2: #4da3ff;
    --tl-p3: #38b6a0;
    --tl-p4: #7f8b99;
    display: block;
    box-sizing: border-box;
    padding: 12px;
    background: var(--tl-bg);
    color: var(--tl-text);
    font: 12px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
    font-variant-numeric: tabular-nums;
    border-radius: 10px;
    container-type: inline-size;
  }
  *,
  *::before,
  *::after {
    box-sizing: inherit;
  }
  h2,
  h3 {
    margin: 0;
    font-weight: 600;
  }
  h2 {
    font-size: 15px;
  }
  h3 {
    font-size: 11px;
    letter-spacing: 0.06em;
    text-transform: uppercase;
    color: var(--tl-muted);
    display: flex;
    gap: 6px;
    align-items: baseline;
  }
  h3 .count {
    color: var(--tl-text);
    letter-spacing: normal;
    text-transform: none;
    font-size: 12px;
  }
  ol,
  ul {
    list-style: none;
    margin: 0;
    padding: 0;
  }
  code,
  .id {
    font-family: ui-monospace, 'SF Mono', Menlo, Consolas, monospace;
    font-size: 11px;
    color: var(--tl-muted);
  }
  .muted {
    color: var(--tl-muted);
  }
  section {
    background: var(--tl-surface);
    border: 1px solid var(--tl-border);
    border-radius: 8px;
    padding: 10px;
    display: grid;
    gap: 8px;
    align-content: start;
    min-width: 0;
  }
  .layout {
    display: grid;
    gap: 10px;
    grid-template-columns: minmax(0, 1fr);
  }
  @container (min-width: 640px) {
    .layout {
      grid-template-columns: minmax(0, 1fr) minmax(0, 1fr);
      grid-template-rows: auto auto 1fr auto auto;
      grid-template-areas:
        'metrics metrics'
        'queue workers'
        'queue failed'
        'workflows workflows'
        'activity activity';
    }
    .area-metrics {
      grid-area: metrics;
    }
    .area-queue {
      grid-area: queue;
    }
    .area-workers {
      grid-area: workers;
    }
    .area-failed {
      grid-area: failed;
    }
    .area-activity {
      grid-area: activity;
    }
    .area-workflows {
      grid-area: workflows;
    }
  }

  /* buttons: real buttons, visible focus */
  button {
    font: inherit;
    color: var(--tl-text);
    background: var(--tl-surface-2);
    border: 1px solid var(--tl-border);
    border-radius: 5px;
    padding: 2px 8px;
    cursor: pointer;
    line-height: 1.5;
  }
  button:hover {
    border-color: var(--tl-accent);
  }
  button:focus-visible {
    outline: 2px solid var(--tl-accent);
    outline-offset: 1px;
  }
  button.icon {
    padding: 0 6px;
    color: var(--tl-muted);
  }
  button.icon:hover {
    color: var(--tl-bad);
    border-color: var(--tl-bad);
  }
  button.danger:hover {
    border-color: var(--tl-bad);
    color: var(--tl-bad);
  }

  /* header */
  header {
    display: flex;
    flex-wrap: wrap;
    gap: 6px 12px;
    align-items: center;
    margin-bottom: 10px;
  }
  header h2 {
    margin-right: auto;
  }
  header h2 .name {
    font-weight: 400;
    color: var(--tl-muted);
  }
  .badge {
    display: inline-flex;
    gap: 4px;
    align-items: center;
    padding: 1px 8px;
    border-radius: 999px;
    border: 1px solid currentColor;
    font-size: 11px;
    white-space: nowrap;
  }
  .health-ok {
    color: var(--tl-ok);
  }
  .health-paused {
    color: var(--tl-warn);
  }
  .health-degraded,
  .health-closed {
    color: var(--tl-bad);
  }
  .leader {
    color: var(--tl-muted);
    white-space: nowrap;
  }
  .notice {
    margin: -4px 0 8px;
    min-height: 1.4em;
    color: var(--tl-muted);
  }

  /* metrics */
  .stats {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(104px, 1fr));
    gap: 6px;
  }
  .stat {
    background: var(--tl-surface-2);
    border-radius: 6px;
    padding: 6px 8px;
    display: grid;
    gap: 1px;
  }
  .stat .label {
    color: var(--tl-muted);
    font-size: 10.5px;
  }
  .stat .value {
    font-size: 15px;
    font-weight: 600;
    white-space: nowrap;
  }
  .stat .value small {
    font-size: 11px;
    font-weight: 400;
    color: var(--tl-muted);
  }
  .charts {
    display: grid;
    grid-template-columns: minmax(0, 1fr) minmax(0, 1fr);
    gap: 10px;
  }
  figure {
    margin: 0;
    display: grid;
    gap: 2px;
  }
  figcaption {
    display: flex;
    justify-content: space-between;
    color: var(--tl-muted);
    font-size: 10.5px;
  }
  figcaption strong {
    color: var(--tl-text);
    font-weight: 600;
  }
  .chart {
    width: 100%;
    height: 44px;
    display: block;
    background: var(--tl-surface-2);
    border-radius: 4px;
  }
  .chart .baseline {
    stroke: var(--tl-border);
  }
  .chart.throughput path {
    fill: var(--tl-ok);
  }
  .chart.depth path {
    fill: color-mix(in srgb, var(--tl-accent) 35%, transparent);
    stroke: var(--tl-accent);
    stroke-width: 1;
    vector-effect: non-scaling-stroke;
  }

  /* queue lanes */
  .lanes {
    display: grid;
    gap: 4px;
  }
  .lane {
    display: grid;
    grid-template-columns: 88px 52px minmax(0, 1fr);
    gap: 2px 8px;
    align-items: center;
    padding: 4px 6px;
    border-radius: 6px;
    background: var(--tl-surface-2);
    border-left: 3px solid var(--lane);
  }
  .lane .lane-name {
    display: flex;
    gap: 6px;
    align-items: center;
    font-weight: 600;
  }
  .lane .lane-name .level {
    font-weight: 400;
    color: var(--tl-muted);
  }
  .lane .lane-count {
    text-align: right;
    font-size: 14px;
    font-weight: 600;
  }
  .lane.empty .lane-count,
  .lane.empty .lane-name {
    color: var(--tl-muted);
    font-weight: 400;
  }
  .bar {
    height: 6px;
    border-radius: 3px;
    background: var(--tl-border);
    overflow: hidden;
  }
  .bar > span {
    display: block;
    height: 100%;
    background: var(--lane, var(--tl-accent));
    border-radius: 3px;
  }
  .next {
    grid-column: 1 / -1;
    display: flex;
    flex-wrap: wrap;
    gap: 4px;
  }
  .chip {
    display: inline-flex;
    align-items: center;
    gap: 4px;
    padding: 1px 2px 1px 7px;
    border-radius: 999px;
    background: var(--tl-bg);
    border: 1px solid var(--tl-border);
    max-width: 100%;
  }
  .chip .task-name {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .chip button.icon {
    border: none;
    background: none;
    border-radius: 999px;
  }
  .more {
    color: var(--tl-muted);
    align-self: center;
  }
  .p0 {
    --lane: var(--tl-p0);
  }
  .p1 {
    --lane: var(--tl-p1);
  }
  .p2 {
    --lane: var(--tl-p2);
  }
  .p3 {
    --lane: var(--tl-p3);
  }
  .p4 {
    --lane: var(--tl-p4);
  }

  /* rows: waiting, dead letter */
  .rows {
    display: grid;
    gap: 3px;
  }
  .row {
    display: grid;
    grid-template-columns: auto minmax(0, 1fr) auto auto;
    gap: 8px;
    align-items: center;
    padding: 3px 6px;
    border-radius: 5px;
    background: var(--tl-surface-2);
  }
  .row .what {
    min-width: 0;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .row .actions {
    display: flex;
    gap: 4px;
  }
  .row .err {
    grid-column: 2 / -1;
    color: var(--tl-bad);
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
    font-size: 11px;
    margin-top: -3px;
  }
  .countdown {
    color: var(--tl-warn);
    white-space: nowrap;
  }
  .empty-note {
    color: var(--tl-muted);
    font-style: italic;
    margin: 0;
  }

  /* status words with glyphs */
  .st {
    display: inline-flex;
    gap: 4px;
    align-items: center;
    white-space: nowrap;
  }
  .st-completed {
    color: var(--tl-ok);
  }
  .st-failed,
  .st-crashed {
    color: var(--tl-bad);
  }
  .st-retrying {
    color: var(--tl-retry);
  }
  .st-running,
  .st-busy {
    color: var(--tl-accent);
  }
  .st-cancelled,
  .st-skipped,
  .st-terminated,
  .st-idle,
  .st-queued {
    color: var(--tl-muted);
  }
  .st-delayed,
  .st-starting {
    color: var(--tl-warn);
  }

  /* workers */
  .workers {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
    gap: 6px;
  }
  .worker {
    background: var(--tl-surface-2);
    border: 1px solid var(--tl-border);
    border-radius: 6px;
    padding: 6px 8px;
    display: grid;
    gap: 4px;
    min-width: 0;
  }
  .worker.busy {
    border-color: color-mix(in srgb, var(--tl-accent) 55%, var(--tl-border));
  }
  .worker.terminated,
  .worker.crashed {
    opacity: 0.7;
    border-style: dashed;
  }
  .worker .top {
    display: flex;
    justify-content: space-between;
    gap: 6px;
    align-items: center;
    white-space: nowrap;
  }
  .worker .task {
    display: flex;
    gap: 6px;
    align-items: center;
    justify-content: space-between;
    min-width: 0;
    min-height: 22px;
  }
  .worker .task span {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .worker .reason {
    color: var(--tl-muted);
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
    font-size: 11px;
  }
  progress {
    appearance: none;
    width: 100%;
    height: 6px;
    border: none;
    border-radius: 3px;
    background: var(--tl-border);
    overflow: hidden;
  }
  progress::-webkit-progress-bar {
    background: var(--tl-border);
  }
  progress::-webkit-progress-value {
    background: var(--tl-accent);
    border-radius: 3px;
  }
  progress::-moz-progress-bar {
    background: var(--tl-accent);
  }
  .elapsed {
    display: flex;
    justify-content: space-between;
    font-size: 11px;
    color: var(--tl-muted);
  }
  .elapsed.late,
  .elapsed .stopping {
    color: var(--tl-warn);
  }

  /* activity */
  table {
    width: 100%;
    border-collapse: collapse;
    table-layout: fixed;
  }
  th {
    text-align: left;
    font-weight: 500;
    color: var(--tl-muted);
    font-size: 10.5px;
    padding: 0 6px 3px;
    border-bottom: 1px solid var(--tl-border);
  }
  td {
    padding: 3px 6px;
    border-bottom: 1px solid color-mix(in srgb, var(--tl-border) 50%, transparent);
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
  }
  td.err {
    color: var(--tl-bad);
  }
  col.c-status {
    width: 92px;
  }
  col.c-att {
    width: 54px;
  }
  col.c-dur {
    width: 64px;
  }
  .num {
    text-align: right;
  }
  .empty {
    color: var(--tl-muted);
    padding: 16px;
  }
`;
