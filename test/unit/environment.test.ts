import { describe, expect, test, vi } from 'vitest';

// Node, as in server-side rendering: the three entries import, and a scheduler refuses to start with a
// named error before it touches the worker factory.
describe('outside a browser (Node)', () => {
  test('the three entries import without throwing', async () => {
    expect(typeof (globalThis as { Worker?: unknown }).Worker).toBe('undefined');
    const main = await import('../../src/index.js');
    const worker = await import('../../src/worker.js');
    const panel = await import('../../src/panel.js');
    expect(typeof main.createScheduler).toBe('function');
    expect(typeof worker.defineTasks).toBe('function');
    expect(typeof panel.TasklanePanel).toBe('function');
    const registry = (globalThis as { customElements?: CustomElementRegistry }).customElements;
    // Lit's Node build may bring a shim registry; the element goes there or nowhere, never a throw.
    if (registry) expect(registry.get('tasklane-panel')).toBe(panel.TasklanePanel);
  });

  test('with no customElements registry at all, the panel module imports and defines nothing', async () => {
    // Lit's Node build installs a shim registry when it loads; take it away before the panel's own code runs.
    vi.resetModules();
    await import('lit');
    const g = globalThis as { customElements?: unknown };
    const shim = g.customElements;
    delete g.customElements;
    try {
      const panel = await import('../../src/panel/tasklane-panel.js');
      expect(typeof panel.TasklanePanel).toBe('function');
      expect(g.customElements).toBeUndefined();
    } finally {
      g.customElements = shim;
    }
  });

  test('createScheduler rejects with UnsupportedEnvironmentError and never calls the worker factory', async () => {
    const { createScheduler, UnsupportedEnvironmentError, TasklaneError } = await import('../../src/index.js');
    const factory = vi.fn(() => {
      throw new Error('the factory must not be called');
    });
    const error = await createScheduler({ worker: factory as unknown as () => Worker, store: 'memory' }).then(
      () => undefined,
      (e: unknown) => e as InstanceType<typeof TasklaneError>,
    );
    expect(error).toBeInstanceOf(UnsupportedEnvironmentError);
    expect(error).toBeInstanceOf(TasklaneError);
    expect(error?.name).toBe('UnsupportedEnvironmentError');
    expect(error?.code).toBe('E_UNSUPPORTED_ENVIRONMENT');
    expect(error?.message).toContain('createScheduler runs in a browser');
    expect(error?.message).toContain('Node.js');
    expect(factory).not.toHaveBeenCalled();
    // The default IndexedDB store is not opened either: the same error, with no store option at all.
    await expect(createScheduler({ worker: factory as unknown as () => Worker })).rejects.toMatchObject({
      code: 'E_UNSUPPORTED_ENVIRONMENT',
    });
    expect(factory).not.toHaveBeenCalled();
  });

  test('where Worker exists, the check passes', async () => {
    const { assertSchedulerEnvironment } = await import('../../src/environment.js');
    vi.stubGlobal('Worker', class {});
    try {
      expect(() => assertSchedulerEnvironment()).not.toThrow();
    } finally {
      vi.unstubAllGlobals();
    }
    expect(() => assertSchedulerEnvironment()).toThrow(expect.objectContaining({ name: 'UnsupportedEnvironmentError' }));
  });

  test('the error survives serialization as its class', async () => {
    const { serializeError, deserializeError, UnsupportedEnvironmentError } = await import('../../src/errors.js');
    const back = deserializeError(serializeError(new UnsupportedEnvironmentError('x')));
    expect(back).toBeInstanceOf(UnsupportedEnvironmentError);
    expect(back.code).toBe('E_UNSUPPORTED_ENVIRONMENT');
  });
});
