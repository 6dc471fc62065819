/**
 * `knit preflight`'s probes and checks on this machine, as the CLI runs them (defaults: a flannel
 * control plane), timed in-process from the compiled dist/ (`npx tsc -p .` first). Median of 5;
 * the first run pays for loading execa, as a real `knit preflight` does.
 */
import { performance } from 'node:perf_hooks';

const RUNS = 5;

export async function benchPreflight() {
  const { createContext } = await import('../../dist/lib/command-support/context.js');
  const { inspectHost, preflightTarget } = await import('../../dist/lib/commands/preflight.js');
  const ctx = createContext({});
  const target = await preflightTarget({}, ctx);
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await inspectHost(ctx, target);
    samples.push((performance.now() - t) / 1000);
  }
  const seconds = [...samples].sort((a, b) => a - b)[Math.floor(RUNS / 2)];
  return { name: 'knit preflight: probes + checks (this host)', seconds, target: 0.5 };
}
