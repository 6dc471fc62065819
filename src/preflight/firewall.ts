/** Packet filtering on the host: firewalld, and (for Terway) the iptables FORWARD policy. */
import { firewallOpenings } from './requirements.js';
import { fail, pass, warn } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

export function firewalldCheck(f: HostFacts, t: PreflightTarget): CheckResult {
  const id = 'firewalld/active';
  if (f.firewalld !== 'active') return pass(id, 'firewalld is not running');
  return warn(id, `firewalld is active: open ${firewallOpenings(t).join(', ')} between nodes, or stop it`);
}

/** Terway forwards pod traffic between ENIs through the host's FORWARD chain. */
export function forwardPolicyChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  if (t.cni !== 'terway') return [];
  const id = 'iptables/forward-policy';
  if (!f.forward) return [warn(id, 'cannot read the iptables FORWARD policy')];
  if (f.forward.policy === 'ACCEPT') return [pass(id, 'iptables FORWARD policy is ACCEPT')];
  return [
    fail(id, `iptables FORWARD policy is ${f.forward.policy}; Terway needs ACCEPT to forward pod traffic`, {
      title: 'Set the iptables FORWARD policy to ACCEPT',
      effects: [{ kind: 'exec', argv: [f.forward.command ?? `iptables-${f.forward.backend}`, '-P', 'FORWARD', 'ACCEPT'] }],
      note: 'a live setting: whatever set DROP at boot (e.g. Docker) sets it again; knit --undo does not restore it',
    }),
  ];
}
