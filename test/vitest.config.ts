import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import SkipReporter from './helpers/skip-reporter.js';

// CI (.ci/run) asks for a JSON report too, for its closing line: KNIT_TEST_JSON=FILE
const json = process.env.KNIT_TEST_JSON;

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // network-namespace labs share kernel state (iptables backends, netns names): run files one at a time
    fileParallelism: false,
    // never let a test reach the real ECS metadata address: a refused loopback port unless a test serves one
    env: { KNIT_ECS_METADATA_URL: 'http://127.0.0.1:9/latest/meta-data/' },
    // vitest's summary, then why each skipped test was skipped (test/helpers/skip.ts gives the reasons)
    reporters: ['default', new SkipReporter(), ...(json ? ['json'] : [])],
    ...(json ? { outputFile: { json } } : {}),
  },
});
