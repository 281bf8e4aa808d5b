import type { StorageInfo } from '../metrics.js';

/** Storage use is measured at most this often, sooner while commits fail (`measure(true)`). */
const MEASURE_EVERY_MS = 2_000;

export type Estimate = () => Promise<{ usage?: number; quota?: number }>;

/**
 * What the store's storage uses, measured in the background (`estimate` is slow: it asks the
 * browser process), so `latest` never waits: it answers with the last measurement and starts the
 * first one.
 */
export class StorageGauge {
  readonly #estimate: Estimate | undefined;
  #storage: StorageInfo | undefined;
  #persisted: boolean | undefined;
  #measuring = false;
  #nextMeasure = 0;

  /** `estimate`: `null` measures nothing; by default `navigator.storage.estimate`, where there is one. */
  constructor(estimate: Estimate | null | undefined) {
    this.#estimate = estimate === null ? undefined : (estimate ?? defaultEstimate());
  }

  latest(): StorageInfo | undefined {
    if (this.#storage === undefined) this.measure();
    return this.#storage;
  }

  /** Whether the browser granted persistent storage when asked. */
  notePersisted(persisted: boolean): void {
    this.#persisted = persisted;
    if (this.#storage) this.#storage = { ...this.#storage, persisted };
  }

  /** Measures in the background, at most every `MEASURE_EVERY_MS` unless `force`d. */
  measure(force = false): void {
    const estimate = this.#estimate;
    if (!estimate || this.#measuring || (!force && Date.now() < this.#nextMeasure)) return;
    this.#measuring = true;
    this.#nextMeasure = Date.now() + MEASURE_EVERY_MS;
    estimate().then(
      (e) => {
        this.#measuring = false;
        const info: StorageInfo = { usage: e.usage ?? 0, quota: e.quota ?? 0, measuredAt: Date.now() };
        if (this.#persisted !== undefined) info.persisted = this.#persisted;
        this.#storage = info;
      },
      () => {
        this.#measuring = false;
      },
    );
  }
}

/** `navigator.storage.estimate`, where there is one. */
function defaultEstimate(): Estimate | undefined {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return typeof storage?.estimate === 'function' ? () => storage.estimate() : undefined;
}
