/**
 * A strict parser for the Prometheus text exposition format (0.0.4), for
 * tests: it refuses anything a Prometheus server would refuse or that the
 * format leaves undefined — a sample before its family's TYPE, a TYPE given
 * twice, a bad metric or label name, a bad escape in a label value, a label
 * repeated in one sample, a series given twice, a value that is not a float,
 * a histogram whose buckets are not cumulative or whose +Inf bucket is not
 * its count.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_count` for a histogram `x`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class ExpositionError extends Error {
  constructor(line: number, message: string, text: string) {
    super(`line ${line}: ${message}: ${JSON.stringify(text.slice(0, 200))}`);
    this.name = 'ExpositionError';
  }
}

function parseValue(s: string): number | undefined {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  // Go's ParseFloat syntax, as Prometheus reads it: decimal or exponent notation.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** Reads `{a="x",b="y"}` starting at `text[at] === '{'`; returns the labels and the index after `}`. */
function parseLabels(text: string, at: number, fail: (m: string) => never): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!nameMatch) fail('bad label name');
    const name = nameMatch[0];
    if (!LABEL_NAME.test(name) || name.startsWith('__')) fail(`reserved or bad label name ${name}`);
    if (Object.hasOwn(labels, name)) fail(`label ${name} repeated`);
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') fail('expected ="');
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated label value');
      if (c === '"') break;
      if (c === '\n') fail('raw newline in label value');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else fail(`bad escape \\${e ?? ''}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] !== '}') fail('expected , or }');
  }
}

/** The family a sample belongs to: `x_bucket`/`x_sum`/`x_count` of a histogram (or summary) `x`, else its own name. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const own = families.get(name);
  if (own) return own;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  if (text.length > 0 && !text.endsWith('\n')) throw new ExpositionError(0, 'the text must end with a newline', text.slice(-50));
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const n = index + 1;
    const fail: (m: string) => never = (m) => {
      throw new ExpositionError(n, m, line);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // any other comment
      const [, kind, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name)) fail('bad metric name');
      let f = families.get(name);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) fail(`unknown type ${rest}`);
        if (f && f.type !== 'untyped') fail('TYPE given twice');
        if (f && f.samples.length > 0) fail('TYPE after samples');
        if (!f) families.set(name, (f = { name, type: rest as MetricType, help: undefined, samples: [] }));
        else f.type = rest as MetricType;
      } else {
        if (f?.help !== undefined) fail('HELP given twice');
        // HELP text escapes: \\ and \n only.
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail('bad escape in HELP');
        if (!f) families.set(name, (f = { name, type: 'untyped', help: rest, samples: [] }));
        else f.help = rest;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) fail('expected a metric name');
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, fail));
    if (line[i] !== ' ') fail('expected a space before the value');
    const parts = line.slice(i + 1).split(' ');
    if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '')) fail('expected a value and at most a timestamp');
    const value = parseValue(parts[0] ?? '');
    if (value === undefined) fail(`bad value ${parts[0] ?? ''}`);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail('bad timestamp');
    const family = familyOf(name, families);
    if (!family) fail(`sample of ${name} without a TYPE or HELP line before it`);
    const key = `${name}{${Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (seen.has(key)) fail('series given twice');
    seen.add(key);
    if (family?.type === 'histogram' && name === `${family.name}_bucket` && labels['le'] === undefined) fail('bucket without le');
    if ((family?.type === 'counter' || name.endsWith('_count') || name.endsWith('_bucket')) && !(value !== undefined && value >= 0)) fail('negative count');
    family?.samples.push({ name, labels, value: value ?? NaN });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  // Group the samples by their labels other than le.
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(),
    );
  for (const s of f.samples) {
    const g = groups.get(keyOf(s.labels)) ?? { buckets: [] };
    groups.set(keyOf(s.labels), g);
    if (s.name === `${f.name}_bucket`) {
      const le = parseValue(s.labels['le'] ?? '');
      if (le === undefined || Number.isNaN(le)) throw new ExpositionError(0, `${f.name}: bad le`, s.labels['le'] ?? '');
      g.buckets.push([le, s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if ((sorted[i]?.[1] ?? 0) < (sorted[i - 1]?.[1] ?? 0)) throw new ExpositionError(0, `${f.name}${key}: buckets are not cumulative`, JSON.stringify(sorted));
    }
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new ExpositionError(0, `${f.name}${key}: no +Inf bucket`, '');
    if (g.count !== inf[1]) throw new ExpositionError(0, `${f.name}${key}: +Inf bucket ${inf[1]} is not the count ${String(g.count)}`, '');
  }
}

/** The value of the one sample of `name` whose labels include `labels` (throws when none or several match). */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = familyOf(name, families);
  const matches = (f?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${matches.length} samples match`);
  return matches[0]?.value ?? NaN;
}
