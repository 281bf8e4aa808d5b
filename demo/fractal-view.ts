import type { PriorityName, Scheduler, TaskEvent } from '../src/index.js';
import type { Tasks } from './demo.worker.js';
import { DEFAULT_VIEW, type TileRequest, type TileResult, type View } from './mandelbrot.js';
import { enqueuePicture, findPicture, type StoredTile, withRenderLock } from './tile-graph.js';

interface Tile {
  tx: number;
  ty: number;
  taskId?: string;
  state: 'pending' | 'queued' | 'running' | 'done' | 'failed';
  priority: PriorityName;
  progress: number;
}

export interface FractalOptions {
  tileSize?: number;
  maxIter?: number;
  aa?: number;
}

const STORAGE_KEY = 'tasklane-demo:view';
const PRIORITY_COLOUR: Record<PriorityName, string> = {
  critical: '#f26b62',
  high: '#f39c45',
  normal: '#4da3ff',
  low: '#38b6a0',
  background: '#7f8b99',
};

/**
 * The fractal on a canvas, one task per tile, enqueued as one graph with an `assemble` task that
 * waits for every tile (see tile-graph.ts). Tiles near the centre go first; tiles under the
 * pointer are moved to `critical` (`reprioritize`) so the picture fills in where the
 * user looks. Tiles are painted from `completed` events, so tasks recovered after a reload paint
 * too; tiles finished before the reload are painted from the store.
 */
export class FractalView {
  readonly #canvas: HTMLCanvasElement;
  readonly #overlay: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  readonly #octx: CanvasRenderingContext2D;
  readonly #scheduler: Scheduler<Tasks>;
  readonly #size: number;
  readonly #maxIter: number;
  /** Samples per pixel side (supersampling): the cost of a tile grows with its square. */
  aa: number;
  readonly cols: number;
  readonly rows: number;
  #tiles: Tile[] = [];
  readonly #byTask = new Map<string, Tile>();
  #gen = 0;
  /** The picture's `assemble` task, cancelled with its tiles when the view changes. */
  #assembleId?: string;
  #view: View = DEFAULT_VIEW;
  #frame?: number;
  #hover?: { tx: number; ty: number };
  /** Fires whenever the tile counts change. */
  onChange: () => void = () => {};

  constructor(canvas: HTMLCanvasElement, overlay: HTMLCanvasElement, scheduler: Scheduler<Tasks>, options: FractalOptions = {}) {
    this.#canvas = canvas;
    this.#overlay = overlay;
    this.#ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    this.#octx = overlay.getContext('2d') as CanvasRenderingContext2D;
    this.#scheduler = scheduler;
    this.#size = options.tileSize ?? 32;
    this.#maxIter = options.maxIter ?? 1500;
    this.aa = options.aa ?? 6;
    this.cols = Math.ceil(canvas.width / this.#size);
    this.rows = Math.ceil(canvas.height / this.#size);
    for (const type of ['started', 'progress', 'completed', 'failed', 'cancelled'] as const)
      scheduler.addEventListener(type, (e) => this.#onTask(e));
    overlay.addEventListener('pointermove', (e) => this.#onPointer(e));
    overlay.addEventListener('pointerleave', () => {
      this.#hover = undefined;
      this.#redraw();
    });
    overlay.addEventListener('click', (e) => void this.zoomAt(e));
    // Another tab of the demo moved the view: follow it. The queue is shared, so are its tiles.
    window.addEventListener('storage', (e) => {
      if (e.key === STORAGE_KEY) void this.start();
    });
    // A new leader: an event the old one committed but did not get to send before it went is not
    // sent again, so read the tiles back from the store (finished ones repaint, live ones are adopted).
    scheduler.addEventListener('leader', () => {
      if (this.#tiles.length > 0) void this.start();
    });
  }

  get counts(): { done: number; total: number; failed: number; gen: number } {
    let done = 0;
    let failed = 0;
    for (const t of this.#tiles) {
      if (t.state === 'done') done++;
      else if (t.state === 'failed') failed++;
    }
    return { done, total: this.#tiles.length, failed, gen: this.#gen };
  }

  /** Picks up the stored view: paints finished tiles, adopts live ones, enqueues the rest. */
  start(): Promise<void> {
    return withRenderLock(() => this.#start());
  }

  async #start(): Promise<void> {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as { gen: number; view: View } | null;
      if (saved && typeof saved.gen === 'number' && saved.view) {
        this.#gen = saved.gen;
        this.#view = saved.view;
      }
    } catch {
      // A bad saved view: start from the default.
    }
    await this.#render(false);
  }

  /** Renders `view` as a new generation: live tiles of the old one are cancelled. */
  show(view: View): Promise<void> {
    // Under the lock from before the view is saved: another tab that follows it waits for the commit.
    return withRenderLock(async () => {
      const old = [...this.#byTask.keys()];
      const assemble = this.#assembleId;
      this.#gen++;
      this.#view = view;
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ gen: this.#gen, view }));
      // The assemble first: it waits for every tile's completion, so it would run on the cancelled ones.
      if (assemble) await this.#scheduler.cancel(assemble, 'the view changed');
      await Promise.all(old.map((id) => this.#scheduler.cancel(id, 'the view changed')));
      await this.#render(true);
    });
  }

  reset(): Promise<void> {
    return this.show(DEFAULT_VIEW);
  }

  rerender(): Promise<void> {
    return this.show(this.#view);
  }

  async zoomAt(e: MouseEvent): Promise<void> {
    const rect = this.#overlay.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * this.#canvas.width;
    const y = ((e.clientY - rect.top) / rect.height) * this.#canvas.height;
    const v = this.#view;
    await this.show({
      cx: v.cx + (x - this.#canvas.width / 2) * v.scale,
      cy: v.cy + (y - this.#canvas.height / 2) * v.scale,
      scale: v.scale / 3,
    });
  }

  #priorityFor(tx: number, ty: number): PriorityName {
    const dx = (tx + 0.5) / this.cols - 0.5;
    const dy = (ty + 0.5) / this.rows - 0.5;
    const r = Math.hypot(dx * (this.cols / this.rows), dy);
    return r < 0.22 ? 'high' : r < 0.45 ? 'normal' : 'low';
  }

  #request(tile: Tile): TileRequest {
    const s = this.#size;
    const x = tile.tx * s;
    const y = tile.ty * s;
    return {
      gen: this.#gen,
      tx: tile.tx,
      ty: tile.ty,
      x,
      y,
      w: Math.min(s, this.#canvas.width - x),
      h: Math.min(s, this.#canvas.height - y),
      width: this.#canvas.width,
      height: this.#canvas.height,
      view: this.#view,
      maxIter: this.#maxIter,
      aa: this.aa,
    };
  }

  async #render(fresh: boolean): Promise<void> {
    const gen = this.#gen;
    this.#byTask.clear();
    this.#tiles = [];
    for (let ty = 0; ty < this.rows; ty++)
      for (let tx = 0; tx < this.cols; tx++)
        this.#tiles.push({ tx, ty, state: 'pending', priority: this.#priorityFor(tx, ty), progress: 0 });
    this.#ctx.fillStyle = '#0b0e13';
    this.#ctx.fillRect(0, 0, this.#canvas.width, this.#canvas.height);
    const stored = new Map<string, StoredTile>();
    let assembleId: string | undefined;
    if (!fresh) {
      // After a reload (with a persistent store), or in another tab: live tiles keep running (read
      // first, so none finishes between the two reads unseen), finished ones come back from the store.
      const picture = await findPicture(this.#scheduler, gen);
      assembleId = picture.assembleId;
      for (const task of await this.#scheduler.list({ status: ['queued', 'retrying', 'running'], name: 'tile', limit: 100_000 })) {
        const at = picture.tiles.get(task.id);
        const tile = at && this.#tiles[at.ty * this.cols + at.tx];
        if (!at || !tile || tile.state === 'done') continue;
        tile.taskId = task.id;
        tile.state = task.status === 'running' ? 'running' : 'queued';
        tile.priority = (['critical', 'high', 'normal', 'low', 'background'] as const)[task.priority] ?? tile.priority;
        this.#byTask.set(task.id, tile);
        stored.set(task.id, { id: task.id, ...at });
      }
      for (const task of await this.#scheduler.list({ status: 'completed', name: 'tile', limit: 100_000 })) {
        const result = task.result as TileResult | undefined;
        const tile = result?.gen === gen ? this.#tiles[result.ty * this.cols + result.tx] : undefined;
        if (!result || !tile) continue;
        this.#paint(tile, result);
        stored.set(task.id, { id: task.id, tx: result.tx, ty: result.ty });
      }
    }
    // Centre first within each priority: enqueue order is the tie-break.
    const pending = this.#tiles.filter((t) => t.state === 'pending').sort((a, b) => this.#distance(a) - this.#distance(b));
    if (pending.length > 0) {
      // Tiles to (re-)render: they and a fresh assemble go in as one graph; the old assemble, if
      // any, would have waited for tiles that are gone.
      if (assembleId) await this.#scheduler.cancel(assembleId, 'the picture was enqueued again');
      const jobs = pending.map((tile) => ({ tx: tile.tx, ty: tile.ty, priority: tile.priority, request: this.#request(tile) }));
      const size = { gen, width: this.#canvas.width, height: this.#canvas.height };
      const ids = await enqueuePicture(this.#scheduler, size, jobs, [...stored.values()]);
      assembleId = ids.assembleId;
      pending.forEach((tile, i) => {
        const id = ids.tileIds[i] as string;
        if (tile.state !== 'pending') return;
        tile.taskId = id;
        tile.state = 'queued';
        this.#byTask.set(id, tile);
      });
    }
    this.#assembleId = assembleId;
    this.#redraw();
    this.onChange();
  }

  #distance(t: Tile): number {
    return Math.hypot(t.tx + 0.5 - this.cols / 2, t.ty + 0.5 - this.rows / 2);
  }

  #onTask(e: TaskEvent): void {
    if (e.type === 'completed' && e.task.name === 'tile') {
      // Paint by the result's own coordinates: a recovered task may finish before start() has adopted it.
      const result = e.task.result as TileResult;
      const tile = this.#tiles[result.ty * this.cols + result.tx];
      this.#byTask.delete(e.task.id);
      if (tile && result.gen === this.#gen) {
        this.#paint(tile, result);
        this.onChange();
        this.#redraw();
      }
      return;
    }
    const tile = this.#byTask.get(e.task.id);
    if (!tile) return;
    switch (e.type) {
      case 'started':
        tile.state = 'running';
        tile.progress = 0;
        break;
      case 'progress':
        tile.state = 'running';
        tile.progress = e.progress ?? tile.progress;
        break;
      case 'failed':
        this.#byTask.delete(e.task.id);
        tile.state = 'failed';
        this.onChange();
        break;
      case 'cancelled':
        this.#byTask.delete(e.task.id);
        if (tile.taskId === e.task.id && tile.state !== 'done') tile.state = 'pending';
        break;
    }
    this.#redraw();
  }

  #paint(tile: Tile, result: TileResult): void {
    if (result.gen !== this.#gen) return;
    this.#ctx.putImageData(new ImageData(new Uint8ClampedArray(result.pixels), result.w, result.h), result.x, result.y);
    tile.state = 'done';
    tile.progress = 1;
  }

  /** Promotes queued tiles around the pointer to `critical`: look somewhere, it renders there next. */
  #onPointer(e: PointerEvent): void {
    const rect = this.#overlay.getBoundingClientRect();
    const tx = Math.floor(((e.clientX - rect.left) / rect.width) * this.cols);
    const ty = Math.floor(((e.clientY - rect.top) / rect.height) * this.rows);
    if (this.#hover?.tx === tx && this.#hover.ty === ty) return;
    this.#hover = { tx, ty };
    this.#redraw();
    for (let y = ty - 1; y <= ty + 1; y++)
      for (let x = tx - 1; x <= tx + 1; x++) {
        const tile = this.#tiles[y * this.cols + x];
        if (x < 0 || x >= this.cols || !tile || tile.state !== 'queued' || tile.priority === 'critical' || !tile.taskId) continue;
        tile.priority = 'critical';
        void this.#scheduler.reprioritize(tile.taskId, 'critical');
      }
  }

  #redraw(): void {
    if (this.#frame !== undefined) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = undefined;
      this.#draw();
    });
  }

  /** The overlay: queued tiles outlined in their priority's colour, running ones with a progress bar. */
  #draw(): void {
    const o = this.#octx;
    const s = this.#size;
    o.clearRect(0, 0, this.#overlay.width, this.#overlay.height);
    for (const t of this.#tiles) {
      if (t.state === 'done') continue;
      const x = t.tx * s;
      const y = t.ty * s;
      if (t.state === 'running') {
        o.fillStyle = 'rgba(77,163,255,0.16)';
        o.fillRect(x, y, s, s);
        o.strokeStyle = '#cfe5ff';
        o.lineWidth = 1.5;
        o.strokeRect(x + 1, y + 1, s - 2, s - 2);
        o.fillStyle = '#cfe5ff';
        o.fillRect(x + 3, y + s - 6, (s - 6) * t.progress, 3);
      } else if (t.state === 'failed') {
        o.strokeStyle = '#f26b62';
        o.lineWidth = 1;
        o.beginPath();
        o.moveTo(x + 6, y + 6);
        o.lineTo(x + s - 6, y + s - 6);
        o.moveTo(x + s - 6, y + 6);
        o.lineTo(x + 6, y + s - 6);
        o.stroke();
      } else {
        o.fillStyle = PRIORITY_COLOUR[t.priority];
        o.globalAlpha = t.priority === 'critical' ? 0.9 : 0.55;
        o.fillRect(x + s / 2 - 2, y + s / 2 - 2, 4, 4);
        o.globalAlpha = 1;
      }
    }
    if (this.#hover) {
      o.strokeStyle = 'rgba(255,255,255,0.7)';
      o.setLineDash([4, 3]);
      o.lineWidth = 1;
      o.strokeRect((this.#hover.tx - 1) * s + 0.5, (this.#hover.ty - 1) * s + 0.5, 3 * s - 1, 3 * s - 1);
      o.setLineDash([]);
    }
  }
}
