// Where the benchmarks load breakwater from: the built package in dist/ by default, or the
// directory in BREAKWATER_DIST (a path or a file: URL), e.g. a private build.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('../../', import.meta.url);

/** The URL of the built entry `name` (index, grpc, http, nats). */
export function distEntry(name) {
  const dir = process.env.BREAKWATER_DIST;
  if (!dir) return new URL(`dist/${name}.js`, root).href;
  if (dir.startsWith('file:')) return new URL(`${name}.js`, dir.endsWith('/') ? dir : `${dir}/`).href;
  const path = isAbsolute(dir) ? dir : resolve(process.cwd(), dir);
  return pathToFileURL(`${path.replace(/\/$/, '')}/${name}.js`).href;
}

/** Imports the built entry `name`. */
export function loadBreakwater(name = 'index') {
  return import(distEntry(name));
}

/**
 * Runs this benchmark file again as a child process in `server` mode (so the client's
 * overhead is what the parent measures) and resolves with the port it reports.
 */
export async function forkServer(file) {
  const { fork } = await import('node:child_process');
  const child = fork(new URL(file).pathname, ['server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, port };
}
