/**
 * `checkHost`: every preflight check over one set of host facts. Pure: the facts come from the probes
 * (src/host/probe.ts), so tests fabricate them. The order is also the order fixes run in (modules are
 * loaded before the sysctls they provide are set).
 */
import { leftoverCniCheck } from './cni-config.js';
import { sandboxImageCheck } from './containerd.js';
import { firewalldCheck, forwardPolicyChecks } from './firewall.js';
import { moduleChecks } from './modules.js';
import { nftablesCheck } from './nftables.js';
import { portChecks } from './ports.js';
import { cgroupDriverCheck, criSocketCheck } from './runtime.js';
import { selinuxCheck } from './selinux.js';
import { swapCheck } from './swap.js';
import { sysctlChecks } from './sysctls.js';
import { cgroupCheck, hostnameCheck, kernelCheck, osCheck, resourceChecks, rootCheck } from './system.js';
import { binaryChecks, versionChecks } from './tools.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

export function checkHost(facts: HostFacts, opts: PreflightTarget): CheckResult[] {
  return [
    rootCheck(facts),
    osCheck(facts),
    kernelCheck(facts),
    cgroupCheck(facts, opts),
    ...resourceChecks(facts, opts),
    hostnameCheck(facts, opts),
    swapCheck(facts),
    ...moduleChecks(facts, opts),
    ...sysctlChecks(facts, opts),
    ...forwardPolicyChecks(facts, opts),
    selinuxCheck(facts),
    firewalldCheck(facts, opts),
    criSocketCheck(facts, opts),
    cgroupDriverCheck(facts, opts),
    ...sandboxImageCheck(facts, opts),
    ...binaryChecks(facts, opts),
    ...nftablesCheck(facts, opts),
    ...versionChecks(facts, opts),
    ...portChecks(facts, opts),
    leftoverCniCheck(facts, opts),
  ];
}
