import { html, nothing, type TemplateResult } from 'lit';
import type { GroupState } from '../metrics.js';
import type { ScheduleInfo } from '../schedule-types.js';
import { formatCount, formatCountdown, formatMs, shortId } from './format.js';
import type { PanelSnapshot } from './scheduler-controller.js';
import type { WaitRow, WorkflowController } from './workflow-controller.js';

const PENDING_SHOWN = 4;

/**
 * The panel's workflow section: limits groups (and until when each waits), repeat schedules with
 * their next run, tasks waiting for dependencies with what they wait on. Nothing when none exist.
 */
export function workflowSection(ctl: WorkflowController, snap: PanelSnapshot): TemplateResult | typeof nothing {
  const groups = snap.metrics.groups ?? [];
  if (groups.length === 0 && ctl.schedules.length === 0 && ctl.waitCount === 0) return nothing;
  // Schedule times are epoch ms; the snapshot's clock is the scheduler's, which reads as epoch ms too.
  const now = snap.now;
  return html`<section class="area-workflows" aria-labelledby="h-workflows">
    <h2 id="h-workflows">Workflows</h2>
    ${groups.length > 0 ? html`<h3>Limits groups</h3><ul class="rows" data-groups>${groups.map((g) => groupRow(g, now))}</ul>` : nothing}
    ${
      ctl.schedules.length > 0
        ? html`<h3>Schedules <span class="count">${ctl.schedules.length}</span></h3>
            <ul class="rows" data-schedules>${ctl.schedules.map((s) => scheduleRow(s, now))}</ul>`
        : nothing
    }
    ${
      ctl.waitCount > 0
        ? html`<h3>Waiting on dependencies <span class="count">${formatCount(ctl.waitCount)}</span></h3>
            <ul class="rows" data-deps>${ctl.waits.map(waitRow)}</ul>
            ${ctl.waitCount > ctl.waits.length ? html`<p class="more">+${formatCount(ctl.waitCount - ctl.waits.length)} more waiting</p>` : nothing}`
        : nothing
    }
  </section>`;
}

function groupRow(g: GroupState, now: number): TemplateResult {
  const parts: string[] = [];
  if (g.concurrency !== undefined) parts.push(`${g.running}/${g.concurrency} running`);
  if (g.rate) parts.push(`${g.rate.starts}/${g.rate.max} per ${formatMs(g.rate.perMs)}`);
  const waits = g.waitsUntil !== undefined && g.waitsUntil > now;
  return html`<li class="row" data-group=${g.name} data-waits=${waits ? 'yes' : 'no'}>
    <span class="what">${g.name} <span class="muted">· ${parts.join(' · ')}</span></span>
    ${
      waits
        ? html`<span class="countdown" title=${g.paused ? 'Paused by a RateLimitedError from a handler' : 'Its rate window is full'}
            >waits until ${new Date(g.waitsUntil as number).toLocaleTimeString()} (${formatCountdown((g.waitsUntil as number) - now)})${g.paused ? ' · server said so' : ''}</span
          >`
        : html`<span class="muted">open</span>`
    }
  </li>`;
}

function scheduleRow(s: ScheduleInfo, now: number): TemplateResult {
  const when = s.cron !== undefined ? html`<code>${s.cron}</code>${s.tz ? ` (${s.tz})` : ''}` : html`every ${formatMs(s.every ?? 0)}`;
  return html`<li class="row" data-schedule=${s.id}>
    <span class="what">${s.id} <span class="muted">→ ${s.name} · ${when} · ${formatCount(s.count)} run${s.count === 1 ? '' : 's'}${s.limit !== undefined ? ` of ${s.limit}` : ''}</span></span>
    <span class="countdown">${s.next === undefined ? 'ended' : html`next ${new Date(s.next).toLocaleTimeString()} (${formatCountdown(s.next - now)})`}</span>
  </li>`;
}

function waitRow(w: WaitRow): TemplateResult {
  const shown = w.pending.slice(0, PENDING_SHOWN).map(shortId).join(' ');
  const more = w.pending.length > PENDING_SHOWN ? ` +${w.pending.length - PENDING_SHOWN}` : '';
  return html`<li class="row" data-task=${w.id}>
    <span class="what">${w.name} <span class="id">${shortId(w.id)}</span></span>
    <span class="muted" data-pending=${w.pending.length}>waits on ${w.pending.length} of ${w.total}: ${shown}${more}</span>
  </li>`;
}
