/**
 * Prints why tests were skipped, after vitest's own summary (which gives only counts): one line per
 * reason, `skipped: N — REASON — in FILES`. The reason is the `skipReason` meta that skipUnless
 * (test/helpers/skip.ts) gives a skipped test or suite, else the note of `ctx.skip(note)`; a skip with
 * neither is listed too, so that no skip goes unexplained. A skipped suite that declares its tests only
 * where it can run (so holds none here) counts as a suite.
 */
import { relative } from 'node:path';
import type { Reporter, TestModule, TestSuite, Vitest } from 'vitest/node';
import './skip.js'; // the TaskMeta augmentation (skipReason)

interface Skips {
  tests: number;
  suites: number;
  files: Set<string>;
}

const isEmptySkippedSuite = (s: TestSuite | TestModule): s is TestSuite =>
  s.type === 'suite' && s.state() === 'skipped' && s.meta().skipReason !== undefined && s.children.allTests().next().done === true;

export default class SkipReporter implements Reporter {
  private vitest?: Vitest;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const filtered = this.vitest?.config.testNamePattern !== undefined;
    const byReason = new Map<string, Skips>();
    const add = (reason: string, module: TestModule, kind: 'tests' | 'suites') => {
      const entry = byReason.get(reason) ?? { tests: 0, suites: 0, files: new Set<string>() };
      entry[kind]++;
      entry.files.add(relative(process.cwd(), module.moduleId));
      byReason.set(reason, entry);
    };
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) {
        const result = test.result();
        const note = result.state === 'skipped' ? result.note : undefined;
        const reason =
          test.meta().skipReason ??
          note ??
          (test.options.mode === 'todo' ? 'todo' : filtered ? 'not selected by -t' : 'no reason recorded (use skipUnless from test/helpers/skip.ts)');
        add(reason, module, 'tests');
      }
      for (const suite of module.children.allSuites())
        if (isEmptySkippedSuite(suite) && !isEmptySkippedSuite(suite.parent)) add(suite.meta().skipReason!, module, 'suites');
    }
    if (byReason.size === 0) return;
    const log = (line: string) => (this.vitest ? this.vitest.logger.log(line) : console.log(line));
    const count = ({ tests, suites }: Skips) =>
      suites === 0 ? `${tests}` : [tests ? `${tests} test${tests > 1 ? 's' : ''}` : '', `${suites} suite${suites > 1 ? 's' : ''}`].filter(Boolean).join(', ');
    log('');
    for (const [reason, skips] of [...byReason].sort((a, b) => b[1].tests - a[1].tests || b[1].suites - a[1].suites))
      log(` skipped: ${count(skips)} — ${reason} — in ${[...skips.files].join(', ')}`);
  }
}
