/** A `console.table`-style text table without the index column, right-aligning numbers. */

export type Cell = string | number;
export type Row = Readonly<Record<string, Cell>>;

export function formatTable(rows: readonly Row[], columns?: readonly string[]): string {
  const headers = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => headers.map((h) => cellText(row[h])));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((line) => (line[i] ?? '').length)),
  );
  const numeric = headers.map((h) => rows.some((row) => typeof row[h] === 'number'));
  const pad = (text: string, i: number): string => {
    const width = widths[i] ?? 0;
    return numeric[i] ? text.padStart(width) : text.padEnd(width);
  };
  const rule = (l: string, m: string, r: string): string =>
    l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r;
  const line = (values: readonly string[]): string =>
    `│ ${values.map((v, i) => pad(v, i)).join(' │ ')} │`;
  return [
    rule('┌', '┬', '┐'),
    line(headers),
    rule('├', '┼', '┤'),
    ...cells.map(line),
    rule('└', '┴', '┘'),
  ].join('\n');
}

/** The same rows as a GitHub-flavoured markdown table. */
export function formatMarkdownTable(rows: readonly Row[], columns?: readonly string[]): string {
  const headers = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const numeric = headers.map((h) => rows.some((row) => typeof row[h] === 'number'));
  const escape = (text: string): string => text.replaceAll('|', '\\|');
  return [
    `| ${headers.map(escape).join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${headers.map((h) => escape(cellText(row[h]))).join(' | ')} |`),
  ].join('\n');
}

function cellText(cell: Cell | undefined): string {
  if (cell === undefined) return '';
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell)) return '–';
    return cell.toLocaleString('en-US', { maximumFractionDigits: Math.abs(cell) >= 100 ? 0 : 2 });
  }
  return cell;
}
