// Type-checks small consumer projects against an unpacked tarball of breakwater, as a user's
// fresh strict app would see it (called by scripts/check-package.mjs with the unpacked
// package's folder):
// - `breakwater` and `breakwater/fetch` with `skipLibCheck: false` and no undici installed,
//   from ESM and from CommonJS: a fetch-only user needs no undici types;
// - internal members (breaker.acquire(), bulkhead.tryAcquire(), budget.tryRetry(), ...) are
//   not in the public types (each use is a `@ts-expect-error` that must be needed);
// - go-to-definition lands in a readable declaration file named after its source module,
//   never in a hashed chunk.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;

const FETCH_ONLY = `import { circuitBreaker, policy } from 'breakwater';
import { type ResilientFetch, resilientFetch } from 'breakwater/fetch';

const catalog = policy({ name: 'catalog', deadline: 2_000, circuitBreaker: circuitBreaker() });
const fetchCatalog: ResilientFetch = resilientFetch(catalog);
export async function items(): Promise<unknown> {
  const res = await fetchCatalog('http://catalog.internal/items');
  return res.json();
}
`;

const FETCH_ONLY_CJS = `import { policy } from 'breakwater';
import { resilientFetch } from 'breakwater/fetch';

export const fetchCatalog = resilientFetch(policy({ name: 'catalog' }));
`;

// Every line marked @ts-expect-error must be an error: a member that leaks into the public
// types makes the directive unused, which fails the check.
const INTERNALS = `import { bulkhead, circuitBreaker, keyedCircuitBreaker, policy, retryBudget } from 'breakwater';

const breaker = circuitBreaker();
const keyed = keyedCircuitBreaker();
const limiter = bulkhead();
const budget = retryBudget();
// @ts-expect-error internal: breaker.acquire()
breaker.acquire();
// @ts-expect-error internal: breaker.record()
breaker.record(0, undefined, false, 0);
// @ts-expect-error internal: breaker.release()
breaker.release(0);
// @ts-expect-error internal: breaker.rejection()
breaker.rejection(undefined);
// @ts-expect-error internal: breaker.retryAfterMs()
breaker.retryAfterMs();
// @ts-expect-error internal: keyed breakers hand out the same internals
keyed.get('k').acquire();
// @ts-expect-error internal: bulkhead.tryAcquire()
limiter.tryAcquire();
// @ts-expect-error internal: bulkhead.release()
limiter.release();
// @ts-expect-error internal: bulkhead.rejection()
limiter.rejection();
// @ts-expect-error internal: budget.tryRetry()
budget.tryRetry();
// @ts-expect-error internal: budget.onRequest()
budget.onRequest();
// @ts-expect-error internal: policy.config
policy().config;
// The public members stay.
export const seen = [
  breaker.state,
  breaker.metrics().failureRate,
  limiter.active,
  budget.available(),
  policy({ circuitBreaker: breaker }).circuitBreaker,
  policy().retryBudget,
];
`;

const DEFINITIONS = `import { circuitBreaker, policy } from 'breakwater';
import { resilientFetch } from 'breakwater/fetch';
export const used = [policy, circuitBreaker, resilientFetch];
`;

function link(target, path) {
  mkdirSync(join(path, '..'), { recursive: true });
  symlinkSync(target, path, 'dir');
}

/** Type-checks a fresh project holding `files`, with the unpacked package and @types/node only. */
export function checkConsumer(packageDir) {
  const work = mkdtempSync(join(tmpdir(), 'breakwater-consumer-'));
  try {
    const modules = join(work, 'node_modules');
    link(packageDir, join(modules, 'breakwater'));
    // @types/node, and the undici-types it depends on; undici itself is absent on purpose.
    link(join(root, 'node_modules/@types/node'), join(modules, '@types/node'));
    link(join(root, 'node_modules/undici-types'), join(modules, 'undici-types'));
    writeFileSync(
      join(work, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    writeFileSync(join(work, 'fetch-only.ts'), FETCH_ONLY);
    writeFileSync(join(work, 'fetch-only.cts'), FETCH_ONLY_CJS);
    writeFileSync(join(work, 'internals.ts'), INTERNALS);
    writeFileSync(join(work, 'definitions.ts'), DEFINITIONS);
    const compilerOptions = {
      strict: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      skipLibCheck: false,
      noEmit: true,
      exactOptionalPropertyTypes: true,
    };
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, include: ['*.ts', '*.cts'] }),
    );
    try {
      execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', work], {
        stdio: 'inherit',
      });
    } catch {
      throw new Error('a consumer project does not type-check against the packed declarations (see above)');
    }
    console.log('consumer: breakwater and breakwater/fetch type-check with skipLibCheck: false, no undici');
    console.log('consumer: internal members are absent from the public types');
    checkDefinitions(work, packageDir, compilerOptions);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Go-to-definition of each import of definitions.ts lands in dist/types/<module>.d.ts. */
function checkDefinitions(work, packageDir, options) {
  const { options: compilerOptions } = ts.convertCompilerOptionsFromJson(options, work);
  const file = join(work, 'definitions.ts');
  const text = ts.sys.readFile(file);
  const service = ts.createLanguageService({
    getCompilationSettings: () => compilerOptions,
    getScriptFileNames: () => [file],
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => {
      const content = ts.sys.readFile(name);
      return content === undefined ? undefined : ts.ScriptSnapshot.fromString(content);
    },
    getCurrentDirectory: () => work,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
    realpath: ts.sys.realpath,
  });
  const expected = {
    policy: 'dist/types/policy.d.ts',
    circuitBreaker: 'dist/types/breaker/circuit-breaker.d.ts',
    resilientFetch: 'dist/types/http/fetch.d.ts',
  };
  const line = text.split('\n').findIndex((l) => l.startsWith('export const used'));
  const offset = text.split('\n').slice(0, line).join('\n').length + 1;
  for (const [name, want] of Object.entries(expected)) {
    const at = offset + text.slice(offset).indexOf(name);
    const definitions = service.getDefinitionAtPosition(file, at) ?? [];
    const files = definitions.map((d) => relative(ts.sys.realpath(packageDir), ts.sys.realpath(d.fileName)));
    if (!files.includes(want) || files.some((f) => /[-.][A-Za-z0-9_]{8}\.d\.c?ts$/.test(f))) {
      throw new Error(
        `go-to-definition of ${name} lands in ${files.join(', ') || 'nothing'}; expected ${want}`,
      );
    }
  }
  console.log(`consumer: go-to-definition lands in ${Object.values(expected).join(', ')}`);
}
