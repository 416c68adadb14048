import { defineConfig } from 'vite';

// `base: './'` keeps every asset URL relative, so the same static build works under any path.
export default defineConfig({
  base: './',
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, sourcemap: true },
});
