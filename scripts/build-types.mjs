#!/usr/bin/env node
// Builds the type declarations of every public entry point (tsup builds the JavaScript).
//
// - One declaration file per source module (rollup-plugin-dts with `preserveModules`), so
//   go-to-definition lands in dist/types/breaker/types.d.ts, not in a hashed chunk; only the
//   modules the public API reaches are emitted.
// - Members tagged `@internal` (breaker.acquire(), bulkhead.tryAcquire(), budget.tryRetry(),
//   ...) are cut out of the public interfaces and classes (scripts/check-package.mjs checks
//   that none is left). Not TypeScript's `stripInternal`: that also drops an internal type
//   still named by a public declaration (policy.config's PolicyConfig), leaving it dangling;
//   here such a type stays declared (unexported) and only members are cut.
// - Twice: `.d.ts` for `import` and `.d.cts` for `require`, each importing its own kind.
import { readFileSync, rmSync } from 'node:fs';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';
import { stripInternalMembers } from './internal-members.mjs';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
/** One entry per subpath export: "." is src/index.ts, "./grpc" is src/grpc/index.ts, ... */
const ENTRIES = Object.fromEntries(
  Object.keys(pkg.exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) =>
      subpath === '.' ? ['index', 'src/index.ts'] : [subpath.slice(2), `src/${subpath.slice(2)}/index.ts`],
    ),
);
/** Transport packages are optional peer dependencies: never inlined. */
const EXTERNAL = [/^@grpc\/grpc-js(\/|$)/, /^undici(\/|$)/, /^nats(\/|$)/, /^@nats-io\//];

const stripInternal = {
  name: 'strip-internal-members',
  renderChunk: (code, chunk) => ({ code: stripInternalMembers(code, chunk.fileName), map: null }),
};

const out = `${root}dist/types`;
rmSync(out, { recursive: true, force: true });

const started = Date.now();
const bundle = await rollup({
  input: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, `${root}${file}`])),
  external: (id) => EXTERNAL.some((pattern) => pattern.test(id)),
  plugins: [
    dts({
      tsconfig: `${root}tsconfig.json`,
      compilerOptions: { declarationMap: false },
    }),
    stripInternal,
  ],
  onwarn(warning, warn) {
    // A type-only import of an optional peer (undici, grpc-js) is external on purpose.
    if (warning.code === 'UNRESOLVED_IMPORT') return;
    warn(warning);
    process.exitCode = 1;
  },
});
for (const extension of ['.d.ts', '.d.cts']) {
  await bundle.write({
    dir: out,
    format: 'es',
    preserveModules: true,
    preserveModulesRoot: `${root}src`,
    entryFileNames: `[name]${extension}`,
  });
}
await bundle.close();
console.log(`types: dist/types in ${Date.now() - started} ms`);
