/** A panel controller's hold on its scheduler: listeners while the host is connected, one animation frame at a time. */
import type { Scheduler } from '../scheduler-api.js';

/** What a subscription needs of a scheduler. */
export type EventSource = Pick<Scheduler, 'addEventListener' | 'removeEventListener'>;

/** The controller a subscription serves: what it listens with, and what it is told. */
export interface SubscriptionHost<S extends EventSource> {
  /** Gets every event of `types` while the host is connected and a scheduler is attached. */
  readonly listener: EventListenerObject;
  readonly types: readonly string[];
  /** A new scheduler (or none) is attached, before it is subscribed to: drop what the old one showed. */
  replaced(): void;
  /** The listeners are on `s` now, under a new `generation`: read what it already has. */
  subscribed(s: S): void;
  /** The listeners are off (the frame asked for is cancelled): stop any timer of its own. */
  unsubscribed?(): void;
  /** The animation frame asked for with `requestFrame` has come. */
  frame(): void;
}

/**
 * Subscribes to the attached scheduler while the host is connected (`connect`/`disconnect`, from
 * `hostConnected`/`hostDisconnected`) and unsubscribes otherwise, so a panel never polls. Every
 * (re)subscription and unsubscription bumps `generation`: an answer read under an older one is for a
 * scheduler or a subscription that is gone, and is dropped by the host.
 */
export class SchedulerSubscription<S extends EventSource> {
  readonly #host: SubscriptionHost<S>;
  #scheduler?: S;
  #connected = false;
  #frame?: number;
  #generation = 0;

  constructor(host: SubscriptionHost<S>) {
    this.#host = host;
  }

  get scheduler(): S | undefined {
    return this.#scheduler;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Bumped on every subscription and unsubscription: an answer read under an older one is stale. */
  get generation(): number {
    return this.#generation;
  }

  /** Follows a new scheduler (or none); resubscribes if the host is connected. */
  attach(scheduler: S | undefined): void {
    if (scheduler === this.#scheduler) return;
    if (this.#connected) this.#unsubscribe();
    this.#scheduler = scheduler;
    this.#host.replaced();
    if (this.#connected) this.#subscribe();
  }

  connect(): void {
    this.#connected = true;
    this.#subscribe();
  }

  disconnect(): void {
    this.#connected = false;
    this.#unsubscribe();
  }

  /** Asks for one animation frame (none while one is pending or the host is disconnected). */
  requestFrame(): void {
    if (this.#frame !== undefined || !this.#connected) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = undefined;
      this.#host.frame();
    });
  }

  #subscribe(): void {
    const s = this.#scheduler;
    if (!s) return;
    this.#generation++;
    const host = this.#host;
    for (const type of host.types) s.addEventListener(type, host.listener);
    host.subscribed(s);
  }

  #unsubscribe(): void {
    this.#generation++;
    const s = this.#scheduler;
    const host = this.#host;
    if (s) for (const type of host.types) s.removeEventListener(type, host.listener);
    if (this.#frame !== undefined) cancelAnimationFrame(this.#frame);
    this.#frame = undefined;
    host.unsubscribed?.();
  }
}
