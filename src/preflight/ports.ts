/** Ports the node's components bind must be free (something on them usually means a previous cluster). */
import { portOwner, requiredFreePorts } from './requirements.js';
import { fail, pass } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

export function portChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  const listening = new Set(f.listening);
  return requiredFreePorts(t).map((port) =>
    listening.has(port)
      ? fail(`ports/${port}`, `TCP port ${port} (${portOwner(port)}) is in use; a previous cluster? \`knit reset\` removes one`)
      : pass(`ports/${port}`, `TCP port ${port} (${portOwner(port)}) is free`),
  );
}
