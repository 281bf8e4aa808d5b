import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    lib: {
      entry: { index: 'src/index.ts', worker: 'src/worker.ts', panel: 'src/panel.ts' },
      formats: ['es'],
    },
    rollupOptions: { external: ['comlink', 'idb', 'lit', /^lit\//] },
  },
});
