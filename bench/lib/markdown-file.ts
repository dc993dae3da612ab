/**
 * Keeps generated sections of a markdown file up to date without touching the rest: each
 * section lives between `<!-- bench:<id> -->` and `<!-- /bench:<id> -->` markers, so the
 * standard run and the scaling run can each rewrite their own part of `docs/bench.md`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function upsertMarkdownSection(text: string, id: string, content: string): string {
  const open = `<!-- bench:${id} -->`;
  const close = `<!-- /bench:${id} -->`;
  const block = `${open}\n${content.trimEnd()}\n${close}`;
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start >= 0 && end > start) {
    return text.slice(0, start) + block + text.slice(end + close.length);
  }
  const base = text.trimEnd();
  return `${base === '' ? '' : `${base}\n\n`}${block}\n`;
}

export function writeMarkdownSection(path: string, id: string, content: string): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  writeFileSync(path, upsertMarkdownSection(current, id, content));
}
