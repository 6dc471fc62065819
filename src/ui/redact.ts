/**
 * Secrets (an AccessKey secret, a bootstrap token's secret half, a certificate key) are registered once
 * and masked in every line knit prints or logs, dry-run included.
 *
 * A secret is masked in every form it can take in output, not only as typed: escaped inside a JSON
 * string (a Secret manifest is JSON text, and `-o json` escapes that text once more), quoted as a YAML
 * scalar (double- or single-quoted, as the yaml library writes them), and base64-encoded (Secret
 * `data`), and each of those escaped again for JSON up to twice.
 */
const secrets = new Set<string>();
/** Every form of every registered secret, longest first (so that a longer form is masked before a part of it). */
let forms: string[] = [];
export const MASK = '********';

/** The inside of a JSON string literal holding `s`. */
export const jsonEscaped = (s: string): string => JSON.stringify(s).slice(1, -1);

/** The inside of a YAML double-quoted scalar, as the yaml library writes it: JSON's escapes, with YAML's short forms for \u00XX. */
export const yamlDoubleQuoted = (s: string): string =>
  jsonEscaped(s).replace(/\\u00([0-9a-f]{2})/g, (_, hex: string) => ({ '00': '\\0', '07': '\\a', '0b': '\\v', '1b': '\\e' })[hex] ?? `\\x${hex}`);

/** The inside of a YAML single-quoted scalar: a quote is doubled. */
export const yamlSingleQuoted = (s: string): string => s.replace(/'/g, "''");

const base64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The forms `value` can take in knit's output (the value itself included). */
export function secretForms(value: string): string[] {
  const quoted = [value, yamlDoubleQuoted(value), yamlSingleQuoted(value), base64(value)];
  const out = new Set<string>();
  for (const q of quoted) {
    // as written; in a JSON string (a manifest in JSON); in a JSON string of that (the manifest text under -o json)
    const once = jsonEscaped(q);
    for (const f of [q, once, jsonEscaped(once), yamlDoubleQuoted(once)]) out.add(f);
  }
  return [...out];
}

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 4 || secrets.has(value)) return;
  secrets.add(value);
  forms = [...new Set([...forms, ...secretForms(value)])].sort((a, b) => b.length - a.length);
}

export function redact(text: string): string {
  let out = text;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(MASK);
  return out;
}
