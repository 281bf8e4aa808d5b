import { defineConfig } from 'vite';

export default defineConfig({
  worker: { format: 'es' },
  // Pre-bundled up front, so the demo page is not reloaded when Vite discovers them on first load.
  optimizeDeps: { include: ['lit', 'lit/directives/repeat.js', 'comlink', 'idb', 'croner'] },
  server: { port: 5173 },
});
