import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Built into the Python package, where `/ui` serves it from (see src/entrypoints/http/ui.py).
export default defineConfig({
  base: "/ui/",
  plugins: [preact()],
  build: {
    outDir: "../src/entrypoints/http/ui_dist",
    emptyOutDir: true,
    assetsDir: "assets",
    // No inline code anywhere: the CSP is `script-src 'self'`.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    sourcemap: false,
  },
});
