import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

// One entry per public subpath (see "exports" in package.json): "." is src/index.ts,
// "./grpc" is src/grpc/index.ts, and so on. Splitting keeps a single copy of the core in a
// shared chunk, so `breakwater` and `breakwater/grpc` share classes.
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, unknown>;
};
const subpaths = Object.keys(pkg.exports)
  .filter((subpath) => subpath.startsWith('./') && subpath !== './package.json')
  .map((subpath) => subpath.slice(2));

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    ...Object.fromEntries(subpaths.map((name) => [name, `src/${name}/index.ts`])),
  },
  format: ['esm', 'cjs'],
  // Declarations are built by scripts/build-types.mjs (one readable file per module, internal
  // members left out), not by tsup.
  dts: false,
  splitting: true,
  clean: true,
  // No source maps: the output is unminified and readable, and maps would triple the download.
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  treeshake: true,
  // Transport packages and the OpenTelemetry API are optional peer dependencies: never bundled.
  external: ['@grpc/grpc-js', 'undici', 'nats', /^@nats-io\//, '@opentelemetry/api'],
});
