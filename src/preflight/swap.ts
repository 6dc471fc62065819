/** Swap: kubelet refuses to start with swap on, unless configured for it (and then only on cgroup v2). */
import type { Effect } from '../runner/types.js';
import { PREFLIGHT_PATHS } from './requirements.js';
import { fail, pass, warn } from './result.js';
import type { CheckResult, HostFacts } from './types.js';

const isSwapLine = (line: string): boolean => !line.trimStart().startsWith('#') && line.trim().split(/\s+/)[2] === 'swap';

/** /etc/fstab with its swap entries commented out (everything else byte for byte). */
export const commentOutSwap = (fstab: string): string =>
  fstab.split('\n').map((l) => (isSwapLine(l) ? `#${l}` : l)).join('\n');

export function swapCheck(f: HostFacts): CheckResult {
  const id = 'swap/off';
  const bootLines = (f.fstab ?? '').split('\n').filter(isSwapLine).length;
  const atBoot = bootLines > 0 ? `/etc/fstab turns it on at boot (${bootLines} line${bootLines > 1 ? 's' : ''})` : undefined;
  const effects: Effect[] = [];
  if (f.swaps.length > 0) effects.push({ kind: 'exec', argv: ['swapoff', '-a'] });
  if (atBoot) effects.push({ kind: 'file', path: PREFLIGHT_PATHS.fstab, content: commentOutSwap(f.fstab!) });
  const fix = { title: 'Turn swap off, now and at boot (comment out the swap lines of /etc/fstab)', effects };

  if (f.swaps.length === 0) return atBoot ? warn(id, `swap is off, but ${atBoot}`, fix) : pass(id, 'swap is off');
  const on = `swap is on (${f.swaps.map((s) => `${s.name}, ${Math.round(s.sizeKiB / 1024)} MiB`).join('; ')})${atBoot ? `; ${atBoot}` : ''}`;
  return f.cgroup === 'v2'
    ? warn(id, `${on}; on cgroup v2 kubelet runs with swap only when its failSwapOn is false`, fix)
    : fail(id, `${on}; kubelet will not start with swap on cgroup v1`, fix);
}
