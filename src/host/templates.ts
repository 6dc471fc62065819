/** Reads knit's manifest templates from the package's templates/ folder (beside dist/). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TemplateReader } from '../cni/types.js';

/** templates/ of this package: two levels up from dist/host/ (and from src/host/ under vitest). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

export const readTemplate: TemplateReader = (path) => readFileSync(`${TEMPLATES_DIR}${path}`, 'utf8');
