import type { TaskStatus } from '../types.js';

/** Priority level → name, in level order (0 most urgent). */
export const LANE_NAMES = ['critical', 'high', 'normal', 'low', 'background'] as const;

/**
 * How each status reads: a glyph and a word, so status never depends on colour alone.
 * `delayed` is not a stored status: it is a queued task whose `runAt` lies ahead.
 */
export const STATUS_LABEL: Record<TaskStatus | 'delayed', { glyph: string; text: string }> = {
  queued: { glyph: '•', text: 'queued' },
  delayed: { glyph: '◷', text: 'delayed' },
  running: { glyph: '▶', text: 'running' },
  retrying: { glyph: '↻', text: 'retrying' },
  completed: { glyph: '✓', text: 'completed' },
  failed: { glyph: '✕', text: 'failed' },
  cancelled: { glyph: '⊘', text: 'cancelled' },
  skipped: { glyph: '↷', text: 'skipped' },
  waiting: { glyph: '⧗', text: 'waiting' },
};

/** Worker card states: what `workers()` reports plus the exits the panel remembers. */
export const WORKER_LABEL: Record<string, { glyph: string; text: string }> = {
  starting: { glyph: '◌', text: 'starting' },
  idle: { glyph: '○', text: 'idle' },
  busy: { glyph: '●', text: 'busy' },
  terminated: { glyph: '■', text: 'terminated' },
  crashed: { glyph: '✕', text: 'crashed' },
};

/** `850 ms`, `1.3 s`, `2 m 05 s`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const v = Math.max(0, ms);
  if (v < 1_000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1_000).toFixed(v < 10_000 ? 1 : 0)} s`;
  const m = Math.floor(v / 60_000);
  const s = Math.floor((v % 60_000) / 1_000);
  return `${m} m ${String(s).padStart(2, '0')} s`;
}

/** A countdown to a deadline, rounded up to whole seconds so it never shows `0 s` while waiting. */
export function formatCountdown(ms: number): string {
  if (ms <= 0) return 'due';
  if (ms < 60_000) return `in ${Math.ceil(ms / 1_000)} s`;
  return `in ${formatMs(ms)}`;
}

/** Ids are `<owner>-<counter>`: the counter is what tells tasks apart on one screen. */
export function shortId(id: string): string {
  const dash = id.lastIndexOf('-');
  return dash >= 0 ? `#${id.slice(dash + 1)}` : `#${id.slice(-6)}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio >= 0.995 || ratio === 0 ? 0 : 1)} %`;
}
