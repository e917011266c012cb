/// <reference types="vitest/config" />
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// The backend LazyAF serves the built files at /; in dev (`npm run dev`) Vite proxies the API,
// the board socket and git to it (LAZYAF_URL, default http://127.0.0.1:8765).
const backend = process.env.LAZYAF_URL ?? 'http://127.0.0.1:8765';
// The proxy passes the browser's Host (localhost:5173) through unchanged (changeOrigin: false;
// Vite's string shorthand would rewrite it), so the backend sees the Origin and the Host of the
// same page and treats the dev board as its own: loopback names are allowed on any port, and
// writes and sockets must come from the origin of the Host they name (backend boundary.py).
const proxied = { target: backend, changeOrigin: false };

export default defineConfig({
  plugins: [svelte()],
  server: {
    port: 5173,
    proxy: {
      '/api': proxied,
      '/git': proxied,
      '/docs': proxied,
      '/openapi.json': proxied,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true, changeOrigin: false },
    },
  },
  build: { target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 400 },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.spec.ts'],
    expect: { requireAssertions: true },
  },
});
