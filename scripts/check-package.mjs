#!/usr/bin/env node
// Checks the package as it would be published: packs it, then runs publint and
// @arethetypeswrong/cli on the tarball, checks its metadata and contents (the guides in
// docs/ ship with it; no internal member in the declarations), loads every entry point with
// both require and import from an unpacked copy, the way a user's project would, and
// type-checks small consumer projects against it (scripts/check-consumer.mjs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConsumer } from './check-consumer.mjs';
import { internalMembers } from './internal-members.mjs';

const REPOSITORY = 'https://github.com/breakwater-js/breakwater';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'breakwater-pack-'));
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
const bin = (name) => join(root, 'node_modules', '.bin', name);

try {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
  )[0];
  const tarball = join(work, packed.filename);
  const files = packed.files.map((f) => f.path);
  const stray = files.filter(
    (f) => !/^(dist\/|docs\/[^/]+\.md$|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(f),
  );
  if (stray.length > 0) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
  // The guides the README links to ship with the package (npm shows no repository files).
  const guides = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'));
  const missing = guides.map((f) => `docs/${f}`).filter((f) => !files.includes(f));
  if (guides.length === 0 || missing.length > 0) {
    throw new Error(`guides missing from the tarball: ${missing.join(', ') || 'docs/*.md'}`);
  }
  console.log(
    `pack: ${files.length} files, ${(packed.size / 1024).toFixed(1)} kB, guides: ${guides.join(', ')}`,
  );

  // Where a user on npmjs.com finds the source, the guides' home and the issue tracker.
  const meta = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const want = {
    repository: JSON.stringify({ type: 'git', url: `git+${REPOSITORY}.git` }),
    homepage: JSON.stringify(`${REPOSITORY}#readme`),
    bugs: JSON.stringify({ url: `${REPOSITORY}/issues` }),
  };
  for (const [field, value] of Object.entries(want)) {
    if (JSON.stringify(meta[field]) !== value) {
      throw new Error(`package.json "${field}" must be ${value}; got ${JSON.stringify(meta[field])}`);
    }
  }
  console.log(`metadata: repository, homepage and bugs point at ${REPOSITORY}`);

  // No member tagged @internal is left in the published declarations.
  const declarations = files.filter((f) => /\.d\.c?ts$/.test(f));
  const leaked = declarations.flatMap((f) =>
    internalMembers(readFileSync(join(root, f), 'utf8'), f).map((m) => `${f}: ${m.name}`),
  );
  if (leaked.length > 0) throw new Error(`internal members in the public types:\n  ${leaked.join('\n  ')}`);
  if (declarations.some((f) => /[-.][A-Za-z0-9_]{8}\.d\.c?ts$/.test(f))) {
    throw new Error(`a hashed declaration chunk in the tarball: ${declarations.join(', ')}`);
  }
  console.log(`types: ${declarations.length} declaration files, no internal member, none hashed`);

  run(bin('publint'), ['run', tarball, '--strict']);
  run(bin('attw'), [tarball, '--profile', 'node16', '--no-color', '--no-emoji']);

  // Load every entry point from the unpacked tarball, with require and with import.
  run('tar', ['-xzf', tarball, '-C', work]);
  const pkgDir = join(work, 'package');
  // Adapters import their optional peer dependency (a transport); give the unpacked copy
  // this repo's node_modules the way a user's project would have them installed.
  symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'), 'dir');
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  for (const subpath of Object.keys(pkg.exports).filter((s) => s !== './package.json')) {
    const file = pkg.exports[subpath];
    const cjs = join(pkgDir, file.require.default);
    const esm = join(pkgDir, file.import.default);
    const env = process.env;
    execFileSync(
      process.execPath,
      ['-e', `const m = require(${JSON.stringify(cjs)}); if (!Object.keys(m).length) process.exit(1)`],
      { env, stdio: 'inherit' },
    );
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(esm)}); if (!Object.keys(m).length) process.exit(1)`,
      ],
      { env, stdio: 'inherit' },
    );
    console.log(`load: ${subpath} ok (require and import)`);
  }

  checkConsumer(pkgDir);
} finally {
  rmSync(work, { recursive: true, force: true });
}
