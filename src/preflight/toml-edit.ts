/**
 * Reading one value out of a TOML document, and setting one string in it by a targeted edit of its
 * text: every other byte of an operator's file (comments, order, quoting, blank lines) stays as it was.
 * The edit is checked by parsing both texts (smol-toml): the result must equal the original with only
 * that value changed, or no edit is offered.
 */
import { parse } from 'smol-toml';

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** The parsed document, or the parser's message (first line) when the text is not valid TOML. */
export function parseToml(text: string): { doc: Table } | { error: string } {
  try {
    return { doc: parse(text) as Table };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0]! };
  }
}

export function getIn(doc: Table, path: readonly string[]): unknown {
  let v: unknown = doc;
  for (const k of path) {
    if (!isTable(v)) return undefined;
    v = v[k];
  }
  return v;
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const formatKey = (k: string): string => (BARE_KEY.test(k) ? k : JSON.stringify(k));
export const formatKeyPath = (path: readonly string[]): string => path.map(formatKey).join('.');
/** A TOML basic string (image references hold nothing JSON and TOML escape differently). */
const formatString = (s: string): string => JSON.stringify(s);

/**
 * A dotted key at the start of `s` (`a."b.c".'d'`), and the rest of the text after it; undefined
 * when `s` does not start with one.
 */
export function readKeyPath(s: string): { path: string[]; rest: string } | undefined {
  const path: string[] = [];
  let i = 0;
  const skipWs = () => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  for (;;) {
    skipWs();
    if (s[i] === '"') {
      const m = /^"(?:[^"\\\n]|\\.)*"/.exec(s.slice(i));
      if (!m) return undefined;
      try {
        path.push(JSON.parse(m[0]) as string);
      } catch {
        return undefined; // a TOML escape JSON does not know (\e, \x..): not an edit knit makes
      }
      i += m[0].length;
    } else if (s[i] === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return undefined;
      path.push(s.slice(i + 1, end));
      i = end + 1;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(s.slice(i));
      if (!m) return undefined;
      path.push(m[0]);
      i += m[0].length;
    }
    skipWs();
    if (s[i] !== '.') return { path, rest: s.slice(i) };
    i++;
  }
}

const samePath = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((k, i) => k === b[i]);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return String(a) === String(b);
  if (Array.isArray(a) || Array.isArray(b))
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isTable(a) && isTable(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return a === b;
}

function withValue(doc: Table, path: readonly string[], value: string): Table {
  const copy = structuredClone(doc);
  let t: Table = copy;
  for (const k of path.slice(0, -1)) {
    if (!isTable(t[k])) t[k] = {};
    t = t[k] as Table;
  }
  t[path[path.length - 1]!] = value;
  return copy;
}

/** The text edit itself, unchecked: replace the value's line, or add it under its table, or add the table. */
function editText(text: string, path: readonly string[], value: string): string | undefined {
  const lines = text.split('\n');
  let table: string[] | undefined = [];
  let multiline: string | undefined; // inside a """ or ''' string that spans lines
  let tableHeader: { index: number; indent: string } | undefined;
  const parent = path.slice(0, -1);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (multiline) {
      if ((line.split(multiline).length - 1) % 2 === 1) multiline = undefined;
      continue;
    }
    const trimmed = line.trimStart();
    const indent = line.slice(0, line.length - trimmed.length);
    if (trimmed.startsWith('[[')) {
      table = undefined; // an array of tables: never the place for a plain key
      continue;
    }
    if (trimmed.startsWith('[')) {
      const key = readKeyPath(trimmed.slice(1));
      if (!key || !/^\]\s*(#.*)?$/.test(key.rest)) return undefined;
      table = key.path;
      if (samePath(table, parent)) tableHeader = { index: i, indent };
      continue;
    }
    if (trimmed === '' || trimmed.startsWith('#') || !table) continue;
    const key = readKeyPath(trimmed);
    if (!key || !key.rest.startsWith('=')) return undefined;
    const valueText = key.rest.slice(1).trimStart();
    for (const q of ['"""', "'''"]) if (valueText.startsWith(q) && (valueText.split(q).length - 1) % 2 === 1) multiline = q;
    if (!samePath([...table, ...key.path], path)) continue;
    // the value must be a one-line string (with perhaps a comment after it): anything else is not knit's to rewrite
    const m = /^("(?:[^"\\]|\\.)*"|'[^']*')(\s*(?:#.*)?)$/.exec(valueText);
    if (!m) return undefined;
    lines[i] = `${line.slice(0, line.length - valueText.length)}${formatString(value)}${m[2]}`;
    return lines.join('\n');
  }
  const entry = `${formatKey(path[path.length - 1]!)} = ${formatString(value)}`;
  if (tableHeader) {
    lines.splice(tableHeader.index + 1, 0, `${tableHeader.indent}  ${entry}`);
    return lines.join('\n');
  }
  const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${body}${body === '' ? '' : '\n'}[${formatKeyPath(parent)}]\n  ${entry}\n`;
}

/**
 * `text` with the string at `path` set to `value` by a targeted edit, or undefined when knit cannot
 * make that edit safely (the text does not parse, the key is held in an inline table, the result
 * would differ from the original in anything else).
 */
export function setTomlString(text: string, path: readonly string[], value: string): string | undefined {
  const before = parseToml(text);
  if ('error' in before) return undefined;
  const edited = editText(text, path, value);
  if (edited === undefined) return undefined;
  const after = parseToml(edited);
  if ('error' in after) return undefined;
  return deepEqual(after.doc, withValue(before.doc, path, value)) ? edited : undefined;
}
