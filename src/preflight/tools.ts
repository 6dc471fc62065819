/** Binaries kubeadm needs on PATH, and kubeadm/kubelet/kubectl at versions the skew policy allows. */
import { parseVersion } from '../spec/schema.js';
import { KUBE_TOOLS, LIMITS, requiredBinaries } from './requirements.js';
import { fail, pass, warn } from './result.js';
import type { CheckResult, HostFacts, KubeTool, PreflightTarget } from './types.js';

export function binaryChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  return requiredBinaries(t).map(({ name, required }) => {
    const id = `binaries/${name}`;
    if (f.binaries[name]) return pass(id, `${name} is on PATH`);
    const missing = `${name} is not on PATH`;
    return required ? fail(id, `${missing}; kubeadm needs it`) : warn(id, `${missing}; kubeadm warns without it`);
  });
}

/**
 * Whether a tool's version fits the control plane's under the version skew policy; undefined when it
 * does, else why not. Only minors count (patch releases of one minor are interchangeable).
 */
export function skewProblem(tool: KubeTool, version: string, target: string): string | undefined {
  const have = parseVersion(version);
  const want = parseVersion(target);
  if (!have || !want) return `cannot compare ${version} with ${target}`;
  const behind = want.minor - have.minor;
  const name = `${tool} ${version}`;
  const cp = `Kubernetes ${target}`;
  if (have.major !== want.major) return `${name} is another major version than ${cp}`;
  switch (tool) {
    case 'kubeadm':
      return behind === 0 ? undefined : `${name} cannot install ${cp}: install kubeadm 1.${want.minor}.x`;
    case 'kubelet':
      if (behind < 0) return `${name} is newer than the control plane (${cp}); kubelet must not be newer`;
      return behind > LIMITS.kubeletMaxOlderMinors
        ? `${name} is ${behind} minors older than ${cp} (at most ${LIMITS.kubeletMaxOlderMinors} allowed)`
        : undefined;
    case 'kubectl':
      return Math.abs(behind) > LIMITS.kubectlMaxSkewMinors
        ? `${name} is more than ${LIMITS.kubectlMaxSkewMinors} minor away from ${cp}`
        : undefined;
  }
}

export function versionChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  const target = t.spec.kubernetes.version;
  return KUBE_TOOLS.map((tool) => {
    const id = `versions/${tool}`;
    // knit applies the CNI with kubectl on control planes; workers can do without it
    const needed = tool !== 'kubectl' || t.role === 'control-plane';
    if (!f.binaries[tool]) {
      const missing = `${tool} is not installed (not on PATH); install ${tool} 1.${parseVersion(target)?.minor ?? '?'}.x`;
      return needed ? fail(id, missing) : warn(id, missing);
    }
    const version = f.versions[tool];
    if (version === undefined) return warn(id, `cannot read the version of ${tool}`);
    const problem = skewProblem(tool, version, target);
    if (!problem) return pass(id, `${tool} ${version} fits Kubernetes ${target}`);
    return tool === 'kubectl' ? warn(id, problem) : fail(id, problem);
  });
}
