/**
 * The task-map vocabulary both sides share: the worker module defines handlers, the main thread
 * infers task names, inputs and results from the module's type.
 */

/** What a handler gets besides its input. */
export interface TaskContext {
  /** Aborted on cancel or timeout; `signal.reason` is a `CancelledError` or `TimeoutError`. */
  readonly signal: AbortSignal;
  /** Reports progress, a number in 0..1 (clamped), as 'progress' events on the main thread. */
  progress(value: number): void;
  /** 1-based attempt number. */
  readonly attempt: number;
  readonly id: string;
  /**
   * How each task in its `dependsOn` ended, by id, in `dependsOn` order: the result of one that
   * completed, or the `Error` of one that failed, was cancelled or skipped (rebuilt by `name` and
   * `code`, as everywhere; only an `on: 'failure'` or `'completion'` dependency can end so). Empty
   * for a task without dependencies.
   * @example const [resized] = Object.values(ctx.dependencies) as ImageBitmap[];
   */
  readonly dependencies: Readonly<Record<string, unknown>>;
  /**
   * Marks `value` (or the given list) to be transferred, not copied, when the result goes back.
   * Returns `value` so it can wrap a return expression: `return ctx.transfer(bitmap)`.
   */
  transfer<T>(value: T, transferables?: Transferable[]): T;
}

// biome-ignore lint/suspicious/noExplicitAny: handler inputs are user-defined
export type TaskHandler<I = any, O = any> = (input: I, ctx: TaskContext) => O | Promise<O>;
export type TaskMap = Record<string, TaskHandler>;

/** Task names of a worker module's `tasks`. */
export type TaskName<T> = Extract<keyof T, string>;
/** The input type of task `N`. */
export type TaskInput<T, N extends TaskName<T>> = T[N] extends (input: infer I, ctx: TaskContext) => unknown ? I : never;
/** The resolved result type of task `N`. */
export type TaskOutput<T, N extends TaskName<T>> = T[N] extends (...args: never[]) => infer O ? Awaited<O> : never;
