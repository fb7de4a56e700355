import { defineConfig } from 'tsup';

// One entry per public subpath. Splitting keeps a single copy of the core in a shared
// chunk, so `breakwater` and `breakwater/grpc` share classes and state.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  splitting: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  treeshake: true,
});
