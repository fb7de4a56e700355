// Builds an earlier breakwater from git, so that a benchmark can run it side by side with
// the current build in one run: `git archive` of the ref into scratch/, node_modules linked
// from this checkout, then the same tsup build. The build is kept per commit and reused.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

/**
 * The ref the before/after benchmarks compare with: BENCH_BASELINE, or the release before
 * the one-engine core (the commit the 0.1 line last shipped from).
 */
export const BASELINE_REF = process.env.BENCH_BASELINE ?? 'de3edd3';

/** Builds `ref` (once) and returns the directory of its dist/, for BREAKWATER_DIST. */
export function buildBaseline(ref = BASELINE_REF) {
  const commit = execFileSync('git', ['rev-parse', '--short=12', `${ref}^{commit}`], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const dir = join(root, 'scratch', `baseline-${commit}`);
  const dist = join(dir, 'dist');
  if (existsSync(join(dist, 'index.js'))) return { commit, dist };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: root, stdio: 'inherit' });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(join(root, 'node_modules', '.bin', 'tsup'), [], { cwd: dir, stdio: 'ignore' });
  return { commit, dist };
}
