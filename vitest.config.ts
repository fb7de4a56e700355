import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // The example imports the library as users do (`breakwater`, `breakwater/grpc`, ...);
    // in tests those names mean the source, as tsconfig.json's `paths` does for tsx and tsc.
    alias: [
      { find: /^breakwater$/, replacement: src('index.ts') },
      { find: /^breakwater\/(grpc|http|fetch|nats|otel)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration suites start real servers; give them room on a loaded 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real servers and child processes: keep suites from starving each other of CPU.
    pool: 'forks',
    maxWorkers: 2,
    env: { NO_COLOR: '1' },
  },
});
