import { transform } from 'esbuild';
import { defineConfig, type Plugin } from 'vite';

/**
 * Minifies each chunk, whitespace included (Vite's lib mode leaves whitespace in ES output). esbuild
 * keeps the `@__PURE__` annotations, so consumers' bundlers still tree-shake the output.
 */
function minifyChunks(): Plugin {
  return {
    name: 'tasklane-minify-chunks',
    enforce: 'post',
    async renderChunk(code) {
      const out = await transform(code, { minify: true, format: 'esm', target: 'es2022', sourcemap: true });
      return { code: out.code, map: out.map };
    },
  };
}

export default defineConfig({
  plugins: [minifyChunks()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // Vite's own pass would print the minified chunks again with whitespace: minifyChunks does it all.
    minify: false,
    // 'esnext' stops Vite's own esbuild pass over the chunks; minifyChunks lowers to es2022.
    target: 'esnext',
    lib: {
      entry: { index: 'src/index.ts', worker: 'src/worker.ts', panel: 'src/panel.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      external: ['comlink', 'idb', 'lit', /^lit\//],
      output: {
        // Chunks by who loads them: the worker module only `shared` (errors, the wire format); the
        // panel only `events`; the scheduler `core`; and the IndexedDB store a chunk of its own,
        // which the scheduler loads on first use (a dynamic import), so an app on the memory store
        // whose bundler drops the unused re-exports never loads it. Repeat schedules (and croner)
        // are another, loaded by engine/schedules once there is a schedule; and the multi-tab code,
        // loaded by createScheduler for a shared queue. Without this, Rollup merges
        // what they share into one of them and every worker would load the scheduler.
        manualChunks: (id) => {
          const path = id.replaceAll('\\', '/');
          if (path.includes('/node_modules/croner/')) return 'repeat';
          const file = path.split('/src/')[1];
          if (!file || /^(index|worker|panel)\.ts$|^panel\/|^worker-runtime\.ts$/.test(file)) return undefined;
          if (file === 'idb-store.ts' || file.startsWith('idb/')) return 'idb-store';
          if (file === 'engine/repeat.ts' || file === 'engine/schedule-spec.ts') return 'repeat';
          if (file.startsWith('tabs/') && file !== 'tabs/leadership.ts') return 'tabs';
          if (file === 'errors.ts' || file === 'error-classes.ts' || file === 'protocol.ts') return 'shared';
          if (file === 'events.ts') return 'events';
          return 'core';
        },
      },
    },
  },
});
