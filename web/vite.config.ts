/// <reference types="vitest/config" />
// Build, dev-server and unit-test configuration of the pairchat web client.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The broker a `npm run dev` session talks to; `make up` listens on 127.0.0.1:8080 by default.
const devBroker = process.env.PAIRCHAT_DEV_BROKER ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    // The Python package serves these files at `/`; see pyproject's package-data.
    outDir: fileURLToPath(new URL('../src/pairchat/static', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    // Same-origin WebSocket in development too, so the client code has a single code path.
    proxy: {
      '/ws': { target: devBroker, ws: true, changeOrigin: false },
      '/healthz': { target: devBroker },
    },
  },
  test: {
    include: ['tests/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    restoreMocks: true,
  },
});
