/// <reference types="vitest/config" />
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// The backend LazyAF serves the built files at /; in dev (`npm run dev`) Vite proxies the API,
// the board socket and git to it (LAZYAF_URL, default http://127.0.0.1:8765).
const backend = process.env.LAZYAF_URL ?? 'http://127.0.0.1:8765';

export default defineConfig({
  plugins: [svelte()],
  server: {
    port: 5173,
    proxy: {
      '/api': backend,
      '/git': backend,
      '/docs': backend,
      '/openapi.json': backend,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
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
