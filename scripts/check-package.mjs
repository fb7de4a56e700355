#!/usr/bin/env node
// Checks the package as it would be published: packs it, then runs publint and
// @arethetypeswrong/cli on the tarball, and loads every entry point with both require and
// import from an unpacked copy, the way a user's project would.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  const stray = files.filter((f) => !/^(dist\/|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(f));
  if (stray.length > 0) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
  console.log(`pack: ${files.length} files, ${(packed.size / 1024).toFixed(1)} kB`);

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
} finally {
  rmSync(work, { recursive: true, force: true });
}
