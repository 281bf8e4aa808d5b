import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { formatCount, formatCountdown, formatMs, formatPercent, LANE_NAMES, STATUS_LABEL, shortId, WORKER_LABEL } from './format.js';
import { panelStyles } from './panel-styles.js';
import type { TaskRow } from './recent-tasks.js';
import { type PanelScheduler, type PanelSnapshot, SchedulerController, type WaitingRow, type WorkerCard } from './scheduler-controller.js';
import { sparkChart } from './spark-chart.js';
import { WorkflowController } from './workflow-controller.js';
import { workflowSection } from './workflow-view.js';

type Action = 'cancel' | 'retry' | 'discard' | 'pause';

const ACTIVITY_ROWS = 12;
const FAILED_ROWS = 8;
const WAITING_ROWS = 6;

function status(kind: keyof typeof STATUS_LABEL): TemplateResult {
  const s = STATUS_LABEL[kind];
  return html`<span class="st st-${kind}"><span aria-hidden="true">${s.glyph}</span>${s.text}</span>`;
}

/**
 * `<tasklane-panel>`: a live view of a scheduler — queue lanes per priority, delayed and retrying
 * tasks, workers, throughput and latency, the dead-letter set, limits groups, repeat schedules, tasks
 * waiting on dependencies, and recent activity — with Cancel,
 * Retry and Discard buttons.
 *
 * @example
 * import 'tasklane/panel';
 * html`<tasklane-panel .scheduler=${scheduler}></tasklane-panel>`;
 */
export class TasklanePanel extends LitElement {
  static override styles = panelStyles;
  static override properties = {
    scheduler: { attribute: false },
    laneLimit: { type: Number, attribute: 'lane-limit' },
  };

  /** The scheduler to show. */
  declare scheduler: PanelScheduler | undefined;
  /** Next tasks shown per priority lane. @default 3 */
  declare laneLimit: number;

  readonly #ctl = new SchedulerController(this);
  readonly #workflows = new WorkflowController(this);

  constructor() {
    super();
    this.scheduler = undefined;
    this.laneLimit = 3;
  }

  /** The controller feeding this panel (for tests and tools: `flushes`, `snapshot`). */
  get controller(): SchedulerController {
    return this.#ctl;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('laneLimit')) this.#ctl.laneLimit = Math.max(0, Math.floor(this.laneLimit) || 0);
    if (changed.has('scheduler')) {
      this.#ctl.attach(this.scheduler);
      this.#workflows.attach(this.scheduler);
    }
  }

  #onClick = (event: Event): void => {
    const button = (event.target as Element | null)?.closest?.('button[data-action]') as HTMLButtonElement | null;
    if (!button) return;
    const action = button.dataset.action as Action;
    if (action === 'pause') {
      this.#ctl.togglePause();
      return;
    }
    const id = button.dataset.id;
    if (id) void this.#ctl.act(action, id, button.dataset.label);
  };

  protected override render(): TemplateResult {
    const snap = this.#ctl.snapshot;
    if (!this.scheduler || !snap)
      return html`<p class="empty">${this.scheduler ? 'Connecting…' : html`No scheduler: set the panel's <code>scheduler</code> property.`}</p>`;
    return html`<div @click=${this.#onClick}>
      ${this.#header(snap)}
      <p class="notice" role="status" aria-live="polite">${this.#ctl.notice}</p>
      <div class="layout">
        ${this.#metrics(snap)} ${this.#queue(snap)} ${this.#workers(snap)} ${this.#failed()} ${workflowSection(this.#workflows, snap)}
        ${this.#activity()}
      </div>
    </div>`;
  }

  #header(snap: PanelSnapshot): TemplateResult {
    const health = snap.metrics.health;
    const glyph = { ok: '●', paused: '❚❚', degraded: '▲', closed: '■' }[health];
    const leader = snap.leader;
    const since = leader.since === undefined ? '' : ` · since ${new Date(leader.since).toLocaleTimeString()}`;
    return html`<header>
      <h2>tasklane <span class="name">· ${snap.name}</span></h2>
      <span class="badge health-${health}" title="Scheduler health"><span aria-hidden="true">${glyph}</span>${health}</span>
      <span class="leader" data-leader title="Which tab runs the queue and its workers">
        <span aria-hidden="true">♛</span> ${
          !leader.shared ? 'Runs in this tab only' : `Leader: ${leader.thisTab ? 'this tab' : 'another tab'}${since}`
        }
      </span>
      <button type="button" data-action="pause" aria-pressed=${snap.paused ? 'true' : 'false'} ?disabled=${health === 'closed'}>
        ${snap.paused ? '▶ Resume' : '❚❚ Pause'}
      </button>
    </header>`;
  }

  #metrics(snap: PanelSnapshot): TemplateResult {
    const m = snap.metrics;
    const series = snap.history;
    const throughput = series.map((b) => b.completed);
    const depth = series.map((b) => b.depth);
    const last = throughput.slice(-5);
    const rate = last.reduce((a, b) => a + b, 0) / Math.max(1, last.length);
    const peakDepth = Math.max(0, ...depth);
    return html`<section class="area-metrics" aria-labelledby="h-metrics">
      <h3 id="h-metrics">Metrics</h3>
      <div class="charts">
        <figure>
          <figcaption><span>Throughput, last 60 s</span><strong>${rate.toFixed(1)}/s</strong></figcaption>
          ${sparkChart(throughput, { kind: 'bars', tone: 'throughput', label: `Completed per second over the last minute; now about ${rate.toFixed(1)} per second` })}
        </figure>
        <figure>
          <figcaption><span>Queue depth, last 60 s</span><strong>${formatCount(m.queued)}</strong></figcaption>
          ${sparkChart(depth, { kind: 'area', tone: 'depth', label: `Queue depth over the last minute; peak ${peakDepth}, now ${m.queued}` })}
        </figure>
      </div>
      <div class="stats">
        <div class="stat"><span class="label">Queued</span><span class="value" data-metric="queued">${formatCount(m.queued)}</span></div>
        <div class="stat"><span class="label" title="Handed to workers, running or about to">In flight</span><span class="value" data-metric="running">${m.running}</span></div>
        <div class="stat">
          <span class="label">Done · failed</span>
          <span class="value"><span data-metric="completed">${formatCount(m.completed)}</span> <small>· <span data-metric="failed">${m.failed}</span></small></span>
        </div>
        <div class="stat"><span class="label">Success rate</span><span class="value" data-metric="success">${formatPercent(m.successRate)}</span></div>
        <div class="stat">
          <span class="label">Wait p50 / p95</span><span class="value">${formatMs(m.waitMs.p50)} <small>/ ${formatMs(m.waitMs.p95)}</small></span>
        </div>
        <div class="stat">
          <span class="label">Run p50 / p95</span><span class="value">${formatMs(m.runMs.p50)} <small>/ ${formatMs(m.runMs.p95)}</small></span>
        </div>
        <div class="stat">
          <span class="label">Retried · cancelled</span><span class="value">${m.retried} <small>· ${m.cancelled}</small></span>
        </div>
        <div class="stat">
          <span class="label">Workers · crashed</span><span class="value">${m.workers.total} <small>· ${m.workers.crashed}</small></span>
        </div>
      </div>
    </section>`;
  }

  #queue(snap: PanelSnapshot): TemplateResult {
    const max = Math.max(1, ...snap.lanes.map((l) => l.count));
    return html`<section class="area-queue" aria-labelledby="h-queue">
      <h3 id="h-queue">Queue <span class="count">${formatCount(snap.metrics.queued)} queued</span></h3>
      <div class="lanes">
        ${snap.lanes.map((lane, p) => {
          const name = LANE_NAMES[p] ?? `p${p}`;
          const more = lane.count - lane.top.length;
          return html`<div class="lane p${p} ${lane.count === 0 ? 'empty' : ''}" data-lane=${name} role="group" aria-label="${name} lane: ${lane.count} queued">
            <span class="lane-name">${name} <span class="level">${p}</span></span>
            <span class="lane-count" data-count>${formatCount(lane.count)}</span>
            <span class="bar" aria-hidden="true"><span style="width:${lane.count === 0 ? 0 : Math.max(2, (lane.count / max) * 100)}%"></span></span>
            ${
              lane.top.length
                ? html`<ol class="next" aria-label="Next in ${name}">
                    ${repeat(
                      lane.top,
                      (t) => t.id,
                      (t) => html`<li class="chip" data-task=${t.id}>
                        <span class="task-name">${t.name}</span><span class="id">${shortId(t.id)}</span>
                        ${t.readyAt > snap.now ? html`<span class="countdown">${formatCountdown(t.readyAt - snap.now)}</span>` : nothing}
                        ${this.#cancelButton(t.id, t.name)}
                      </li>`,
                    )}
                    ${more > 0 ? html`<li class="more">+${formatCount(more)} more</li>` : nothing}
                  </ol>`
                : nothing
            }
          </div>`;
        })}
      </div>
      ${this.#waiting(snap)}
    </section>`;
  }

  #cancelButton(id: string, name: string): TemplateResult {
    const label = `${name} ${shortId(id)}`;
    return html`<button type="button" class="icon" data-action="cancel" data-id=${id} data-label=${label} aria-label="Cancel ${label}" title="Cancel ${label}">✕</button>`;
  }

  #waiting(snap: PanelSnapshot): TemplateResult {
    const rows = snap.waiting.slice(0, WAITING_ROWS);
    return html`<h3 id="h-waiting">Delayed &amp; retrying <span class="count">${formatCount(snap.waitingCount)}</span></h3>
      ${
        rows.length === 0
          ? html`<p class="empty-note">Nothing waiting for a later start.</p>`
          : html`<ul class="rows" aria-labelledby="h-waiting">
              ${repeat(
                rows,
                (r) => r.id,
                (r: WaitingRow) => html`<li class="row p${r.priority}" data-task=${r.id}>
                  ${status(r.kind)}
                  <span class="what">${r.name} <span class="id">${shortId(r.id)}</span>${r.kind === 'retrying' ? html` <span class="muted">· attempt ${(r.attempt ?? 0) + 1}/${r.attempts}</span>` : nothing}</span>
                  <span class="countdown">${formatCountdown(r.readyAt - snap.now)}</span>
                  <span class="actions">${this.#cancelButton(r.id, r.name)}</span>
                  ${r.error ? html`<span class="err" title=${r.error}>${r.error}</span>` : nothing}
                </li>`,
              )}
            </ul>`
      }
      ${snap.waitingCount > rows.length ? html`<p class="more">+${formatCount(snap.waitingCount - rows.length)} more waiting</p>` : nothing}`;
  }

  #workers(snap: PanelSnapshot): TemplateResult {
    return html`<section class="area-workers" aria-labelledby="h-workers">
      <h3 id="h-workers">Workers <span class="count">${snap.metrics.workers.busy} busy · ${snap.metrics.workers.idle} idle</span></h3>
      ${
        snap.workers.length === 0
          ? html`<p class="empty-note">No workers yet: they start when work arrives.</p>`
          : html`<ul class="workers">
              ${repeat(
                snap.workers,
                (w) => `${w.id}:${w.state === 'terminated' || w.state === 'crashed' ? 'x' : 'live'}`,
                (w) => this.#workerCard(w, snap.now),
              )}
            </ul>`
      }
    </section>`;
  }

  #workerCard(w: WorkerCard, now: number): TemplateResult {
    const label = WORKER_LABEL[w.state] ?? { glyph: '?', text: w.state };
    const running = w.state === 'busy' && w.taskId;
    const elapsed = running && w.startedAt !== undefined ? Math.max(0, now - w.startedAt) : undefined;
    const late = elapsed !== undefined && w.timeoutMs ? elapsed > w.timeoutMs * 0.75 : false;
    // The call still on the worker no longer belongs to a live task: it timed out or was cancelled,
    // and the worker is terminated unless the handler stops within the grace period.
    const abandoned = running && elapsed !== undefined && w.timeoutMs === undefined;
    return html`<li class="worker ${w.state}" data-worker=${w.id} data-state=${w.state} aria-label="Worker ${w.id}: ${label.text}">
      <div class="top">
        <strong>Worker ${w.id}</strong>
        <span class="st st-${w.state}"><span aria-hidden="true">${label.glyph}</span>${label.text}</span>
      </div>
      ${
        running
          ? html`<div class="task">
                <span>${w.taskName} <span class="id">${shortId(w.taskId as string)}</span></span>
                ${this.#cancelButton(w.taskId as string, w.taskName ?? 'task')}
              </div>
              <progress max="1" .value=${w.progress ?? 0} aria-label="Progress of ${w.taskName} ${shortId(w.taskId as string)}"></progress>
              <div class="elapsed ${late ? 'late' : ''}">
                <span>${elapsed === undefined ? 'waiting to start' : formatMs(elapsed)}</span>
                ${
                  abandoned
                    ? html`<span class="stopping" title="Timed out or cancelled: the worker is terminated and replaced unless the handler stops within the grace period">abandoned</span>`
                    : html`<span>${w.timeoutMs ? `timeout ${formatMs(w.timeoutMs)}` : 'no timeout'}</span>`
                }
              </div>`
          : w.reason
            ? html`<div class="reason" title=${w.reason}>${w.reason}</div>`
            : html`<div class="task muted">${w.state === 'starting' ? 'loading module…' : `${formatCount(w.completed)} done`}</div>`
      }
    </li>`;
  }

  #failed(): TemplateResult {
    const rows = this.#ctl.failed.newest(FAILED_ROWS);
    const total = this.#ctl.failed.count;
    return html`<section class="area-failed" aria-labelledby="h-failed">
      <h3 id="h-failed">Failed · dead letter <span class="count" data-failed-count>${total}</span></h3>
      ${
        rows.length === 0
          ? html`<p class="empty-note">No failed tasks.</p>`
          : html`<ul class="rows">
              ${repeat(
                rows,
                (r) => r.id,
                (r: TaskRow) => {
                  const label = `${r.name} ${shortId(r.id)}`;
                  return html`<li class="row" data-task=${r.id}>
                    <span class="st st-failed" aria-hidden="true">${STATUS_LABEL.failed.glyph}</span>
                    <span class="what">${r.name} <span class="id">${shortId(r.id)}</span></span>
                    <span class="muted" title="Attempts made / allowed">${r.attempt}/${r.attempts} tries</span>
                    <span class="actions">
                      <button type="button" data-action="retry" data-id=${r.id} data-label=${label} aria-label="Retry ${label}">↻ Retry</button>
                      <button type="button" class="danger" data-action="discard" data-id=${r.id} data-label=${label} aria-label="Discard ${label}">Discard</button>
                    </span>
                    ${r.error ? html`<span class="err" title=${r.error}>${r.error}</span>` : nothing}
                  </li>`;
                },
              )}
            </ul>`
      }
      ${total > rows.length ? html`<p class="more">+${total - rows.length} more failed</p>` : nothing}
    </section>`;
  }

  #activity(): TemplateResult {
    const rows = this.#ctl.recent(ACTIVITY_ROWS);
    return html`<section class="area-activity" aria-labelledby="h-activity">
      <h3 id="h-activity">Recent activity</h3>
      ${
        rows.length === 0
          ? html`<p class="empty-note">Nothing has run yet.</p>`
          : html`<table aria-labelledby="h-activity">
              <colgroup><col class="c-status" /><col /><col class="c-att" /><col class="c-dur" /><col /></colgroup>
              <thead><tr><th scope="col">Status</th><th scope="col">Task</th><th scope="col" class="num">Attempts</th><th scope="col" class="num">Duration</th><th scope="col">Error or reason</th></tr></thead>
              <tbody>
                ${repeat(
                  rows,
                  (r) => r.id,
                  (r: TaskRow) => html`<tr data-task=${r.id} data-status=${r.status}>
                    <td>${status(r.status)}</td>
                    <td>${r.name} <span class="id">${shortId(r.id)}</span></td>
                    <td class="num">${r.attempt}/${r.attempts}</td>
                    <td class="num">${r.durationMs === undefined ? '–' : formatMs(r.durationMs)}</td>
                    ${
                      r.error
                        ? html`<td class="err" title=${r.error}>${r.error}</td>`
                        : html`<td class="muted" title=${r.reason ?? ''}>${r.reason ?? ''}</td>`
                    }
                  </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>`;
  }
}

// Only where there is a registry: importing the panel in Node (server-side rendering) defines nothing.
if (typeof customElements !== 'undefined' && !customElements.get('tasklane-panel')) customElements.define('tasklane-panel', TasklanePanel);

declare global {
  interface HTMLElementTagNameMap {
    'tasklane-panel': TasklanePanel;
  }
}
