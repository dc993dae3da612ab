// Lists functions longer than a limit (default 80 lines), longest first, so the
// "no function over ~80 lines on the packet path" rule of issue 16 can be checked
// by a command instead of by eye. Usage: node scripts/long-functions.mjs [--max N] [dir...]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** @param {string} dir @returns {string[]} */
function sourceFiles(dir) {
  if (statSync(dir).isFile()) return dir.endsWith('.ts') ? [dir] : [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** @param {ts.Node} node */
function functionName(node) {
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) {
    return node.name?.getText() ?? '(anonymous)';
  }
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) {
    return parent.name.getText();
  }
  return '(anonymous)';
}

/** @param {string} file @param {number} max */
function longFunctionsIn(file, max) {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  /** @type {{ file: string, line: number, name: string, lines: number }[]} */
  const found = [];
  /** @param {ts.Node} node */
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) found.push({ file, line: start + 1, name: functionName(node), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const args = process.argv.slice(2);
const maxAt = args.indexOf('--max');
const max = maxAt >= 0 ? Number(args.splice(maxAt, 2)[1]) : 80;
const dirs = args.length > 0 ? args : ['src/dataserver', 'src/ha', 'src/db'];
const found = dirs.flatMap((dir) => sourceFiles(dir).flatMap((file) => longFunctionsIn(file, max)));
found.sort((a, b) => b.lines - a.lines);
for (const fn of found)
  console.log(`${String(fn.lines).padStart(4)}  ${fn.file}:${fn.line}  ${fn.name}`);
process.exitCode = found.length > 0 ? 1 : 0;
