/// <reference types="vitest/config" />
// Build, dev-server and unit-test configuration of the pairchat web client.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The broker a `npm run dev` session talks to; `make up` listens on 127.0.0.1:8080 by default.
const devBroker = process.env.PAIRCHAT_DEV_BROKER ?? 'http://127.0.0.1:8080';
// The operations listener with the moderation API (`pairchat up --admin-token`: port 9090).
const devOps = process.env.PAIRCHAT_DEV_OPS ?? 'http://127.0.0.1:9090';
const page = (name: string) => fileURLToPath(new URL(name, import.meta.url));

export default defineConfig({
  plugins: [vue()],
  // Absolute asset URLs (/assets/...): the chat page is served at `/`, the moderator console at
  // `/moderate` of the operations listener, and both find their files under /assets/.
  base: '/',
  build: {
    // The Python package serves these files at `/`; see pyproject's package-data.
    outDir: fileURLToPath(new URL('../src/pairchat/static', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    rolldownOptions: {
      // Two pages: the chat (index.html) and the moderator console (moderate.html).
      input: { index: page('index.html'), moderate: page('moderate.html') },
      // What both pages use (Vue, the shared styles) is one chunk, named for what it is.
      output: { chunkFileNames: 'assets/shared-[hash].js' },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    // Same-origin WebSocket in development too, so the client code has a single code path.
    proxy: {
      '/ws': { target: devBroker, ws: true, changeOrigin: false },
      '/healthz': { target: devBroker },
      // The console at /moderate.html calls the moderation API of the operations listener.
      '/admin': { target: devOps },
    },
  },
  test: {
    include: ['tests/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    restoreMocks: true,
  },
});
