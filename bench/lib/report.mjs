// Writes one benchmark's section of bench/RESULTS.md (see bench/run.mjs).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Writes `body` under `title`, stamped with the command, Node version, machine and date. */
export function writeSection(name, title, body) {
  const file = process.env.BENCH_RESULT;
  const stamp = `Command: \`npm run bench -- ${name}\` · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} · ${new Date().toISOString().slice(0, 10)}`;
  const text = `## ${title}\n\n${stamp}\n\n${body.trim()}\n`;
  if (file) writeFileSync(file, text);
  console.log(`\n${text}`);
}
