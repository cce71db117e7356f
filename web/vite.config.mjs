// The dashboard's build (docs/dashboard.md). scripts/build.js runs `vite build --outDir <fresh build>/web`
// with this folder as the root; the API serves the result at /ui/ (src/ui/).
import { fileURLToPath } from 'node:url';

export default {
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Everything from this origin: no inline script, no inlined assets (the CSP allows neither).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
};
