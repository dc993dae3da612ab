/**
 * Dependency-free SVG charts for bench reports: a time-series line chart with an optional
 * right-hand axis (throughput and queue depth over time) and a bar chart over categories
 * (scaling runs). Output is a standalone SVG string that GitHub renders inline.
 */

export interface LineSeries {
  readonly name: string;
  /** `[x, y]` points, x ascending. */
  readonly points: readonly (readonly [number, number])[];
  /** Which y axis the series is scaled against; default left. */
  readonly axis?: 'left' | 'right';
}

export interface Marker {
  readonly x: number;
  readonly label: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly y2Label?: string;
  readonly series: readonly LineSeries[];
  /** Vertical dashed lines, e.g. where each pass starts. */
  readonly markers?: readonly Marker[];
  readonly width?: number;
  readonly height?: number;
}

export interface BarGroup {
  readonly label: string;
  readonly values: readonly number[];
}

export interface BarChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** One name per bar within a group (legend). */
  readonly seriesNames: readonly string[];
  readonly groups: readonly BarGroup[];
  readonly width?: number;
  readonly height?: number;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2'] as const;
const MARGIN = { top: 48, right: 70, bottom: 56, left: 70 } as const;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

export function lineChartSvg(options: LineChartOptions): string {
  const width = options.width ?? 800;
  const height = options.height ?? 360;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const all = options.series.flatMap((s) => s.points);
  const xMin = Math.min(...all.map((p) => p[0]), ...(options.markers ?? []).map((m) => m.x));
  const xMax = Math.max(...all.map((p) => p[0]));
  const xScale = niceScale(Number.isFinite(xMin) ? xMin : 0, Number.isFinite(xMax) ? xMax : 1);
  const yLeft = niceScale(0, maxY(options.series.filter((s) => s.axis !== 'right')));
  const yRight = niceScale(0, maxY(options.series.filter((s) => s.axis === 'right')));
  const px = (x: number): number => MARGIN.left + ((x - xScale.min) / xScale.span) * plotW;
  const py = (y: number, axis: 'left' | 'right'): number => {
    const scale = axis === 'right' ? yRight : yLeft;
    return MARGIN.top + plotH - ((y - scale.min) / scale.span) * plotH;
  };
  const hasRight = options.series.some((s) => s.axis === 'right');

  const parts: string[] = [header(width, height, options.title)];
  for (const tick of yLeft.ticks) {
    const y = py(tick, 'left');
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${fmt(y)}" y2="${fmt(y)}" stroke="#e5e7eb"/>`,
      `<text x="${MARGIN.left - 6}" y="${fmt(y + 4)}" text-anchor="end" font-size="11" fill="#374151">${tickText(tick)}</text>`,
    );
  }
  if (hasRight) {
    for (const tick of yRight.ticks) {
      const y = py(tick, 'right');
      parts.push(
        `<text x="${MARGIN.left + plotW + 6}" y="${fmt(y + 4)}" font-size="11" fill="#374151">${tickText(tick)}</text>`,
      );
    }
  }
  for (const tick of xScale.ticks) {
    const x = px(tick);
    parts.push(
      `<line x1="${fmt(x)}" x2="${fmt(x)}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" stroke="#6b7280"/>`,
      `<text x="${fmt(x)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle" font-size="11" fill="#374151">${tickText(tick)}</text>`,
    );
  }
  for (const marker of options.markers ?? []) {
    const x = px(marker.x);
    parts.push(
      `<line x1="${fmt(x)}" x2="${fmt(x)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#9ca3af" stroke-dasharray="4 3"/>`,
      `<text x="${fmt(x + 3)}" y="${MARGIN.top + 11}" font-size="10" fill="#6b7280">${escapeXml(marker.label)}</text>`,
    );
  }
  options.series.forEach((series, i) => {
    if (series.points.length === 0) return;
    const axis = series.axis ?? 'left';
    const d = series.points
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${fmt(px(p[0]))},${fmt(py(p[1], axis))}`)
      .join('');
    const dash = axis === 'right' ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${color(i)}" stroke-width="1.8"${dash}/>`);
  });
  parts.push(axesFrame(plotW, plotH));
  parts.push(
    axisLabels(
      width,
      height,
      plotH,
      options.xLabel,
      options.yLabel,
      hasRight ? options.y2Label : undefined,
    ),
  );
  parts.push(
    legend(
      options.series.map((s) => (s.axis === 'right' ? `${s.name} (R)` : s.name)),
      width,
    ),
  );
  parts.push('</svg>\n');
  return parts.join('\n');
}

export function barChartSvg(options: BarChartOptions): string {
  const width = options.width ?? 800;
  const height = options.height ?? 360;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const values = options.groups.flatMap((g) => g.values).filter(Number.isFinite);
  const yScale = niceScale(0, values.length > 0 ? Math.max(...values) : 1);
  const py = (y: number): number => MARGIN.top + plotH - ((y - yScale.min) / yScale.span) * plotH;
  const groupW = plotW / Math.max(1, options.groups.length);
  const barW = (groupW * 0.7) / Math.max(1, options.seriesNames.length);

  const parts: string[] = [header(width, height, options.title)];
  for (const tick of yScale.ticks) {
    const y = py(tick);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${fmt(y)}" y2="${fmt(y)}" stroke="#e5e7eb"/>`,
      `<text x="${MARGIN.left - 6}" y="${fmt(y + 4)}" text-anchor="end" font-size="11" fill="#374151">${tickText(tick)}</text>`,
    );
  }
  options.groups.forEach((group, g) => {
    const left = MARGIN.left + g * groupW + groupW * 0.15;
    group.values.forEach((value, s) => {
      if (!Number.isFinite(value)) return;
      const x = left + s * barW;
      const y = py(value);
      parts.push(
        `<rect x="${fmt(x)}" y="${fmt(y)}" width="${fmt(barW - 2)}" height="${fmt(MARGIN.top + plotH - y)}" fill="${color(s)}"/>`,
        `<text x="${fmt(x + barW / 2 - 1)}" y="${fmt(y - 3)}" text-anchor="middle" font-size="10" fill="#111827">${tickText(value)}</text>`,
      );
    });
    parts.push(
      `<text x="${fmt(MARGIN.left + (g + 0.5) * groupW)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle" font-size="11" fill="#374151">${escapeXml(group.label)}</text>`,
    );
  });
  parts.push(axesFrame(plotW, plotH));
  parts.push(axisLabels(width, height, plotH, options.xLabel, options.yLabel, undefined));
  parts.push(legend(options.seriesNames, width));
  parts.push('</svg>\n');
  return parts.join('\n');
}

interface Scale {
  readonly min: number;
  readonly span: number;
  readonly ticks: readonly number[];
}

/** Round axis bounds and about five ticks at 1/2/5 × 10^k steps. */
export function niceScale(min: number, max: number, tickCount = 5): Scale {
  const hi = max > min ? max : min + 1;
  const raw = (hi - min) / tickCount;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const lo = Math.floor(min / step) * step;
  const top = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= top + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { min: lo, span: top - lo, ticks };
}

function maxY(series: readonly LineSeries[]): number {
  let max = 0;
  for (const s of series) for (const p of s.points) if (p[1] > max) max = p[1];
  return max;
}

function header(width: number, height: number, title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600" fill="#111827">${escapeXml(title)}</text>`,
  ].join('\n');
}

function axesFrame(plotW: number, plotH: number): string {
  return `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#6b7280"/>`;
}

function axisLabels(
  width: number,
  height: number,
  plotH: number,
  xLabel: string,
  yLabel: string,
  y2Label: string | undefined,
): string {
  const midY = MARGIN.top + plotH / 2;
  const lines = [
    `<text x="${MARGIN.left + (width - MARGIN.left - MARGIN.right) / 2}" y="${height - 12}" text-anchor="middle" font-size="12" fill="#111827">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(16 ${midY}) rotate(-90)" text-anchor="middle" font-size="12" fill="#111827">${escapeXml(yLabel)}</text>`,
  ];
  if (y2Label !== undefined) {
    lines.push(
      `<text transform="translate(${width - 14} ${midY}) rotate(90)" text-anchor="middle" font-size="12" fill="#111827">${escapeXml(y2Label)}</text>`,
    );
  }
  return lines.join('\n');
}

function legend(names: readonly string[], width: number): string {
  const items: string[] = [];
  let x = MARGIN.left;
  names.forEach((name, i) => {
    if (x > width - 60) return;
    items.push(
      `<rect x="${fmt(x)}" y="31" width="12" height="4" fill="${color(i)}"/><text x="${fmt(x + 16)}" y="37" font-size="11" fill="#374151">${escapeXml(name)}</text>`,
    );
    // About 6 px per character at 11 px, plus the swatch and a gap.
    x += 16 + name.length * 6.2 + 18;
  });
  return items.join('\n');
}

function color(i: number): string {
  return PALETTE[i % PALETTE.length] ?? '#000000';
}

function tickText(value: number): string {
  if (Math.abs(value) >= 10_000) return `${Number((value / 1000).toPrecision(3))}k`;
  return `${Number(value.toPrecision(4))}`;
}

function fmt(n: number): string {
  return n.toFixed(1);
}

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
