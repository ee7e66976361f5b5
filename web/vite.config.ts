import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// Built by `npm run build:web` (from the repository root) into web/dist, which the management plane
// serves with a strict CSP (src/management/web-assets.ts): no inline scripts, so nothing here may
// emit any. `npx vite --config web/vite.config.ts` serves the UI with hot reload against a Keyway
// started separately on port 8080.
const webRoot = decodeURIComponent(new URL('.', import.meta.url).pathname);
const repoRoot = decodeURIComponent(new URL('..', import.meta.url).pathname);
const keyway = process.env.KEYWAY_DEV_URL ?? 'http://127.0.0.1:8080';

// @hpke/common falls back to `await import("crypto")` where globalThis.crypto is missing (old Node).
// Browsers always have it; answer that import with WebCrypto instead of a Node built-in.
const browserCrypto: Plugin = {
  name: 'keyway-browser-crypto',
  enforce: 'pre',
  resolveId: (id) => (id === 'crypto' || id === 'node:crypto' ? '\0keyway-browser-crypto' : null),
  load: (id) => (id === '\0keyway-browser-crypto' ? 'export const webcrypto = globalThis.crypto;\nexport default { webcrypto };\n' : null),
};

export default defineConfig({
  root: webRoot,
  base: '/',
  publicDir: 'public',
  plugins: [browserCrypto, react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The sealing code (src/crypto) is outside web/; Rollup handles it like any other module.
    sourcemap: false,
    reportCompressedSize: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // @hpke/common ships commented-out code with /* @__PURE__ */ marks; Rollup's note about them is noise.
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('node_modules')) return;
        warn(warning);
      },
    },
  },
  server: {
    fs: { allow: [repoRoot] },
    proxy: { '/api': keyway, '/sign-in/link': keyway },
  },
});
