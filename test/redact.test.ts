/**
 * The redactor masks a secret in every form knit's output can hold it: as typed, escaped in JSON (once
 * and twice), quoted in YAML (double and single), base64 (Secret data), and those inside JSON.
 */
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MASK, redact, registerSecret, secretForms } from '../src/ui/redact.js';

// every character that escapes differently in JSON and YAML: ", \, / and '
const SECRET = `kNiT"Te\\sT/Se'cReT9f8e7d`;
registerSecret(SECRET);

const b64 = Buffer.from(SECRET).toString('base64');
const field = (text: string) => /k: (.*)/.exec(text)?.[1];
/** [what, the output text, how to read the value back out of it] */
const outputs: [string, string, (text: string) => unknown][] = [
  ['as typed', `token ${SECRET} here`, (t) => t.slice('token '.length, -' here'.length)],
  ['a JSON string', JSON.stringify({ k: SECRET }), (t) => JSON.parse(t).k],
  ['JSON text inside JSON (render -o json of a JSON manifest)', JSON.stringify({ yaml: JSON.stringify({ k: SECRET }) }), (t) => JSON.parse(JSON.parse(t).yaml).k],
  ['three levels of JSON', JSON.stringify({ a: JSON.stringify({ yaml: JSON.stringify({ k: SECRET }) }) }), (t) => JSON.parse(JSON.parse(JSON.parse(t).a).yaml).k],
  ['YAML as the library writes it', stringify({ k: SECRET }), (t) => field(t)],
  ['a YAML double-quoted scalar', stringify({ k: SECRET }, { defaultStringType: 'QUOTE_DOUBLE' }), (t) => parse(t).k],
  ['a YAML single-quoted scalar', stringify({ k: SECRET }, { defaultStringType: 'QUOTE_SINGLE' }), (t) => parse(t).k],
  ['YAML double-quoted inside JSON', JSON.stringify({ yaml: stringify({ k: SECRET }, { defaultStringType: 'QUOTE_DOUBLE' }) }), (t) => parse(JSON.parse(t).yaml).k],
  ['YAML single-quoted inside JSON', JSON.stringify({ yaml: stringify({ k: SECRET }, { defaultStringType: 'QUOTE_SINGLE' }) }), (t) => parse(JSON.parse(t).yaml).k],
  ['JSON text in a YAML double-quoted scalar', stringify({ k: JSON.stringify({ s: SECRET }) }, { defaultStringType: 'QUOTE_DOUBLE' }), (t) => JSON.parse(parse(t).k).s],
  ['base64 (Secret data)', stringify({ data: { k: b64 } }), (t) => Buffer.from(/k: (\S+)/.exec(t)![1]!, 'base64').toString()],
  ['base64 inside JSON', JSON.stringify({ yaml: stringify({ data: { k: b64 } }) }), (t) => Buffer.from(/k: (\S+)/.exec(JSON.parse(t).yaml)![1]!, 'base64').toString()],
];

describe('redact', () => {
  it.each(outputs)('masks the secret %s', (_, text, read) => {
    expect(read(text)).toBe(SECRET); // the output really holds the secret in that form
    const masked = redact(text);
    expect(masked).toContain(MASK);
    expect(masked).not.toContain(SECRET);
    for (const form of secretForms(SECRET)) expect(masked).not.toContain(form);
  });

  it('masks the JSON forms so that the output stays valid JSON holding the mask', () => {
    expect(JSON.parse(redact(JSON.stringify({ k: SECRET })))).toEqual({ k: MASK });
    expect(JSON.parse(JSON.parse(redact(JSON.stringify({ y: JSON.stringify({ k: SECRET }) }))).y)).toEqual({ k: MASK });
    expect(parse(redact(stringify({ k: SECRET }, { defaultStringType: 'QUOTE_DOUBLE' })))).toEqual({ k: MASK });
  });

  it('the forms are the escapes of the JSON and YAML writers, not guesses', () => {
    const forms = secretForms(SECRET);
    expect(forms).toContain(JSON.stringify(SECRET).slice(1, -1));
    expect(forms).toContain(JSON.stringify(JSON.stringify(SECRET).slice(1, -1)).slice(1, -1));
    expect(forms).toContain(stringify(SECRET, { defaultStringType: 'QUOTE_DOUBLE' }).trim().slice(1, -1));
    expect(forms).toContain(stringify(SECRET, { defaultStringType: 'QUOTE_SINGLE' }).trim().slice(1, -1));
    expect(forms).toContain(b64);
    // control characters: YAML's short escapes differ from JSON's \u00XX
    const odd = 'ab\u0007c\u001bd\u0001e';
    expect(secretForms(odd)).toContain(stringify(odd, { defaultStringType: 'QUOTE_DOUBLE' }).trim().slice(1, -1));
  });

  it('leaves other text alone, and ignores values too short to mask safely', () => {
    registerSecret('abc');
    registerSecret(undefined);
    expect(redact('abc abcd kNiT')).toBe('abc abcd kNiT');
  });
});
