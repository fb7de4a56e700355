// An operation is made on every call. On Node 20, a class-field initializer (public or
// #private) anywhere in a class hierarchy sends every `new` of a subclass through V8's
// generic construct path, several hundred instructions dearer (docs/architecture.md,
// "Where the time goes"). These checks keep the operation's hierarchy free of them.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const HIERARCHY = ['src/engine/operation-base.ts', 'src/engine/operation.ts', 'src/engine/execute.ts'];

describe('the operation class hierarchy', () => {
  it('is built with class fields compiled as constructor assignments', () => {
    const tsconfig = JSON.parse(read('tsconfig.json')) as { compilerOptions: Record<string, unknown> };
    expect(tsconfig.compilerOptions.useDefineForClassFields).toBe(false);
  });

  it.each(HIERARCHY)('%s declares no #private member', (path) => {
    const privates = read(path)
      .split('\n')
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
      .filter((line) => /(^|[^\w$'"`])#[A-Za-z_$]/.test(line));
    expect(privates).toEqual([]);
  });

  it('OperationBase initializes no field in its declarations', () => {
    const body = read('src/engine/operation-base.ts');
    const declarations = body.slice(
      body.indexOf('export abstract class OperationBase'),
      body.indexOf('constructor('),
    );
    const initialized = declarations
      .split('\n')
      .filter((line) => /^\s+(readonly\s+)?\w+\??\s*(:[^=]*)?=[^>=]/.test(line));
    expect(initialized).toEqual([]);
  });
});

describe('the engine', () => {
  // Module variables live in V8's old generation: storing a per-call value there (as the
  // engine once kept each promise's settle functions) takes the write barrier's slow path
  // on every call.
  const ENGINE = readdirSync(new URL('src/engine/', root)).map((file) => `src/engine/${file}`);
  it.each(ENGINE)('%s keeps no mutable module state', (path) => {
    const lets = read(path)
      .split('\n')
      .filter((line) => /^(export\s+)?(let|var)\s/.test(line));
    expect(lets).toEqual([]);
  });
});
