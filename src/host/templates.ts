/**
 * Reads knit's manifest templates from the package's templates/ folder, or, in the single executable
 * (bin/build-sea.mjs), from its assets, keyed by the same path under templates/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

import type { TemplateReader } from '../cni/types.js';

/**
 * templates/ beside dist/: one level up from the bundle's chunks in dist/chunks/… is dist/, so look
 * for it from here upward (src/host/ under vitest, dist/ or dist/chunks/ when built).
 */
function findTemplatesDir(): string {
  for (const up of ['../templates/', '../../templates/', '../../../templates/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${dir}SOURCES.md`)) return dir;
  }
  throw new Error(`knit's templates/ folder is missing next to ${fileURLToPath(import.meta.url)}`);
}

let dir: string | undefined;
export const templatesDir = (): string => (dir ??= findTemplatesDir());

export const readTemplate: TemplateReader = (path) =>
  isSea() ? getAsset(`templates/${path}`, 'utf8') : readFileSync(`${templatesDir()}${path}`, 'utf8');
