// Members tagged `@internal` in declaration files: found (for the package check) and cut
// out (for the build, scripts/build-types.mjs), with the TypeScript parser.
import ts from 'typescript';

/** True when `node`'s own doc comment carries `@internal`. */
function isInternal(node) {
  return ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'internal');
}

/** Every interface, class and type-literal member of `code` tagged `@internal`. */
export function internalMembers(code, fileName = 'file.d.ts') {
  const file = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (node) => {
    if (ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node) || ts.isTypeLiteralNode(node)) {
      for (const member of node.members) {
        if (!isInternal(member)) continue;
        const owner = node.name?.text ?? '(type literal)';
        found.push({
          name: `${owner}.${member.name?.getText(file) ?? '(anonymous)'}`,
          start: member.getFullStart(),
          end: member.getEnd(),
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** `code` (a declaration file) without its members tagged `@internal`. */
export function stripInternalMembers(code, fileName) {
  let out = code;
  const cuts = internalMembers(code, fileName).sort((a, b) => b.start - a.start);
  for (const { start, end } of cuts) out = out.slice(0, start) + out.slice(end);
  return out;
}
