import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

// One entry per public subpath (see "exports" in package.json). Splitting keeps a single
// copy of the core in a shared chunk, so `breakwater` and `breakwater/grpc` share classes.
const subpaths = ['grpc', 'http', 'nats', 'otel'].filter((name) => existsSync(`src/${name}/index.ts`));

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    ...Object.fromEntries(subpaths.map((name) => [name, `src/${name}/index.ts`])),
  },
  format: ['esm', 'cjs'],
  dts: true,
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
