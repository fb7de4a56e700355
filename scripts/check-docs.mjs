#!/usr/bin/env node
// Type-checks every TypeScript example in the docs: ```ts blocks in README.md and docs/*.md,
// and @example blocks in the TSDoc of src/. Each block becomes a module under .docs-check/
// that imports `breakwater` (mapped to src/), so an example that no longer compiles fails
// the test run. A block fenced as ```ts no-check is skipped (e.g. a fragment of a larger file).
//
// Every block must stand alone, as it would pasted into a fresh strict app: it sees nothing
// but its own declarations, breakwater and the transports' packages. The only exception is
// the TSDoc of the files listed in PRELUDE_USERS, which import the names they use but do not
// declare from docs/prelude.d.ts (a module, so no other block sees them).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, '.docs-check');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

function walk(dir, test) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(path, test));
    else if (test(entry.name)) found.push(path);
  }
  return found;
}

const blocks = [];
const markdown = [
  join(root, 'README.md'),
  ...(existsSync(join(root, 'docs')) ? walk(join(root, 'docs'), (n) => n.endsWith('.md')) : []),
];
for (const file of markdown) {
  if (!existsSync(file)) continue;
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm)) {
    if (match[2].includes('no-check')) continue;
    const line = text.slice(0, match.index).split('\n').length;
    blocks.push({ from: `${relative(root, file)}:${line}`, code: match[3] });
  }
}
// TSDoc examples that still lean on docs/prelude.d.ts for names they use without declaring.
const PRELUDE_USERS = ['src/grpc/interceptor.ts', 'src/grpc/propagation.ts'];
const PRELUDE_NAMES = ['doWork', 'loyalty', 'OrderServiceClient'];
for (const file of walk(join(root, 'src'), (n) => n.endsWith('.ts'))) {
  const text = readFileSync(file, 'utf8');
  const prelude = PRELUDE_USERS.includes(relative(root, file))
    ? `import { ${PRELUDE_NAMES.join(', ')} } from '../docs/prelude.js';\n`
    : '';
  for (const match of text.matchAll(/@example\s*\n\s*\*\s*```ts\n([\s\S]*?)\n\s*\*\s*```/g)) {
    const code = match[1].replace(/^\s*\* ?/gm, '');
    const line = text.slice(0, match.index).split('\n').length;
    blocks.push({ from: `${relative(root, file)}:${line}`, code: prelude + code });
  }
}

const index = [];
blocks.forEach((block, i) => {
  const name = `example-${String(i).padStart(3, '0')}.ts`;
  writeFileSync(join(out, name), `// from ${block.from}\nexport {};\n${block.code}`);
  index.push(`${name}  <-  ${block.from}`);
});
writeFileSync(join(out, 'INDEX.txt'), `${index.join('\n')}\n`);
writeFileSync(
  join(out, 'tsconfig.json'),
  JSON.stringify(
    {
      extends: '../tsconfig.json',
      compilerOptions: {
        noEmit: true,
        rootDir: '..',
        noUnusedLocals: false,
        noUnusedParameters: false,
        paths: {
          breakwater: ['../src/index.ts'],
          'breakwater/grpc': ['../src/grpc/index.ts'],
          'breakwater/http': ['../src/http/index.ts'],
          'breakwater/fetch': ['../src/fetch/index.ts'],
          'breakwater/nats': ['../src/nats/index.ts'],
          'breakwater/otel': ['../src/otel/index.ts'],
        },
      },
      include: ['*.ts'],
    },
    null,
    2,
  ),
);
try {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(out, 'tsconfig.json')],
    {
      stdio: 'inherit',
    },
  );
} catch {
  console.error(`\nA docs example does not type-check; .docs-check/INDEX.txt maps each file to its source.`);
  process.exit(1);
}
console.log(`docs: ${blocks.length} examples type-check`);
