#!/usr/bin/env node
// `npm run bench [-- name ...]`: builds the package, runs each benchmark in bench/*.bench.mjs
// (all of them, or the named ones) in its own process, and assembles bench/RESULTS.md from
// the sections in bench/results/. Each benchmark writes its own section, so running one
// refreshes its figures and keeps the others'.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const root = join(here, '..');
const wanted = process.argv.slice(2);
const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .map((f) => f.replace(/\.bench\.mjs$/, ''))
  .sort((a, b) => (a === 'core' ? -1 : b === 'core' ? 1 : a.localeCompare(b)));
const selected = wanted.length > 0 ? wanted : all;
for (const name of selected) {
  if (!all.includes(name)) {
    console.error(`no benchmark named ${name}; have: ${all.join(', ')}`);
    process.exit(2);
  }
}

if (!process.env.BENCH_SKIP_BUILD) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });

for (const name of selected) {
  console.log(`\n== bench: ${name}`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, `${name}.bench.mjs`)], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NO_COLOR: '1', BENCH_RESULT: join(here, 'results', `${name}.md`) },
  });
  if (result.status !== 0) {
    console.error(`bench ${name} failed (exit ${result.status})`);
    process.exit(1);
  }
}

const sections = all
  .map((name) => join(here, 'results', `${name}.md`))
  .filter((file) => existsSync(file))
  .map((file) => readFileSync(file, 'utf8').trim());
const cpu = cpus()[0]?.model ?? 'unknown CPU';
writeFileSync(
  join(here, 'RESULTS.md'),
  `# Benchmark results

Produced by \`npm run bench\` (all sections) or \`npm run bench -- <name>\` (one section);
each section names the run it comes from. Machine: ${cpus().length} × ${cpu}.
Figures differ between machines: compare the rows of one table, which come from one run.

${sections.join('\n\n')}
`,
);
console.log(`\nwrote bench/RESULTS.md (${sections.length} sections)`);
