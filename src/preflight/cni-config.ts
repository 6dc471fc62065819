/**
 * Leftover CNI configuration: the runtime uses the first file of /etc/cni/net.d in name order, so
 * another CNI's config left there (10-calico.conflist sorts before 10-flannel.conflist) silently wins.
 */
import { PATHS } from '../defaults.js';
import { CNI_PLUGINS } from '../spec/schema.js';
import { fail, pass, warn } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

/** CNIs recognised by name in a config file's name (calico-kubeconfig, 10-calico.conflist, 05-cilium.conflist, …). */
const KNOWN_CNIS = [...CNI_PLUGINS, 'cilium', 'weave', 'antrea', 'kube-router'];
/** Files a CNI writes under other names: canal's install-cni (Calico's) writes 10-canal.conflist and calico-kubeconfig. */
const ALSO_OWNS: Partial<Record<string, string[]>> = { canal: ['calico'] };
const ownedBy = (cni: string, owner: string | undefined): boolean => owner === cni || (owner !== undefined && (ALSO_OWNS[cni] ?? []).includes(owner));
const isNetworkConfig = (file: string): boolean => /\.(conf|conflist|json)$/.test(file);
const ownerOf = (file: string): string | undefined => KNOWN_CNIS.find((c) => file.includes(c));

export function leftoverCniCheck(f: HostFacts, t: PreflightTarget): CheckResult {
  const id = 'cni/leftover-config';
  const dir = PATHS.cniConfDir;
  const otherCni = f.cniConfigs.filter((file) => ownerOf(file) !== undefined && !ownedBy(t.cni, ownerOf(file)));
  const unknown = f.cniConfigs.filter((file) => ownerOf(file) === undefined && isNetworkConfig(file));
  const foreign = [...otherCni, ...unknown].sort();
  if (foreign.length === 0) return pass(id, `no other CNI's configuration in ${dir}`);
  const fix = {
    title: `Remove other CNIs' configuration from ${dir}`,
    effects: foreign.map((file) => ({ kind: 'remove', path: `${dir}/${file}` }) as const),
    note: 'knit reset removes it as part of a full reset; --undo puts the files back',
  };
  const list = foreign.join(', ');
  return otherCni.length > 0
    ? fail(id, `${dir} holds another CNI's configuration (${list}), which would take over from ${t.cni}`, fix)
    : warn(id, `${dir} holds configuration knit does not know (${list}); the runtime may use it instead of ${t.cni}'s`, fix);
}
