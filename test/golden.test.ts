/**
 * Every spec in test/cases/*.yaml renders to test/golden/<case>/<file>. Drop a case in, get a test.
 * After a deliberate change: `UPDATE_GOLDEN=1 npm test`, then review the diff.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTemplate } from '../src/host/templates.js';
import { renderBundle } from '../src/render/bundle.js';
import { loadSpec } from '../src/spec/load.js';

const casesDir = join(import.meta.dirname, 'cases');
const goldenDir = join(import.meta.dirname, 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

export const loadCase = (file: string) =>
  loadSpec({ file: { name: file, text: readFileSync(join(casesDir, file), 'utf8') }, hostname: 'unused' });

describe.each(readdirSync(casesDir).filter((f) => f.endsWith('.yaml')))('golden bundle for %s', (file) => {
  const dir = join(goldenDir, basename(file, '.yaml'));
  const { spec, localNode } = loadCase(file);
  const bundle = renderBundle(spec, localNode, { template: readTemplate });

  if (update) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(bundle)) writeFileSync(join(dir, name), content);
  }

  it('has exactly the golden files', () => {
    expect(existsSync(dir), `no golden for ${file}: run UPDATE_GOLDEN=1 npm test`).toBe(true);
    expect(Object.keys(bundle).sort()).toEqual(readdirSync(dir).sort());
  });

  it.each(Object.keys(bundle))('%s matches its golden', (name) => {
    expect(bundle[name]).toBe(readFileSync(join(dir, name), 'utf8'));
  });
});
