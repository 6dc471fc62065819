/**
 * Canal: upstream's canal.yaml of Calico v3.30.7, kept as released. One DaemonSet (`canal`) runs two
 * containers on every node: flannel (v0.24.4, upstream's pin in that manifest; kube-subnet-mgr) owns
 * the data path — flannel.1, VXLAN to the other nodes' private IPs, routes to their pod CIDRs,
 * masquerade — and calico-node runs felix without BGP (CALICO_NETWORKING_BACKEND none) for
 * NetworkPolicy. Pods get addresses from their node's podCIDR (Calico's CNI plugin with host-local
 * IPAM), so net-conf.json's Network must be kubeadm's podSubnet.
 */
import { CNI } from '../../defaults.js';
import { crdManifest } from '../calico/crds.js';
import { netConfNetwork, patchNetConf, vxlanBackend } from '../flannel/plugin.js';
import { Manifest } from '../manifest.js';
import type { CniPluginDef } from '../types.js';

const NAMESPACE = 'kube-system';
const CONFIG_MAP = 'canal-config';
const DAEMONSET = 'canal';
/** flannel's VXLAN device, whose MTU flanneld sets per node to its interface's MTU minus 50. */
const FLANNEL_DEVICE = 'flannel.1';
const VXLAN_OVERHEAD = 50;

/** The canal pod's flannel container (what crossvpc restarts when it drops flannel's public-ip-overwrite). */
export const CANAL_FLANNEL = { namespace: NAMESPACE, selector: 'k8s-app=canal', container: 'kube-flannel' } as const;

export const canal: CniPluginDef = {
  name: 'canal',
  describe: () => `Canal: flannel vxlan + Calico policy (${CNI.templates.canal.split('/')[1]})`,
  encapsulationOverhead: () => VXLAN_OVERHEAD,
  needs: ({ canal: c }) => [{ protocol: 'udp', number: c.port, what: 'VXLAN' }],
  explicitMtu: (spec) => spec.network.canal.mtu,
  render({ spec, template }) {
    const c = spec.network.canal;
    const source = `${CNI.templates.canal}/canal.yaml`;
    // canal.yaml bundles Calico's CRDs: they come from the same table as Calico's own (one apply, waited for)
    const m = Manifest.parse(template(source), source).without('CustomResourceDefinition');
    const table = `${CNI.templates.calico}/crds.yaml`;
    const crds = crdManifest(template(table), table);

    const cfg = m.object('ConfigMap', CONFIG_MAP);
    patchNetConf(cfg, spec.kubernetes.podSubnet, vxlanBackend(c.vni, c.port));
    // flannel on the interface of the default route (an ECS node's private IP), as knit's flannel; flannel masquerades
    cfg.replace(['data', 'canal_iface'], '');
    cfg.replace(['data', 'masquerade'], 'true');
    // "0": every node's own (below); a number: the CNI plugin's mtu on every node
    cfg.replace(['data', 'veth_mtu'], String(c.mtu ?? 0));

    const ds = m.object('DaemonSet', DAEMONSET);
    const node = ds.container('calico-node');
    // felix takes the smallest MTU of the interfaces matching this pattern as the host's and, with no
    // Calico encapsulation, gives pods that (/var/lib/calico/mtu). Upstream's default pattern matches
    // eth*/en*, so pods would get the NIC's 1500 over flannel's 1450; flannel.1's MTU is the pod MTU.
    node.putEnv('FELIX_MTUIFACEPATTERN', `^${FLANNEL_DEVICE.replace('.', '\\.')}$`);
    // upstream leaves the pool at Calico's default 192.168.0.0/16 (IPAM is host-local: the pool only
    // decides felix's natOutgoing); knit keeps it equal to the pod network, not a common VPC range
    node.putEnv('CALICO_IPV4POOL_CIDR', spec.kubernetes.podSubnet);
    ds.container('kube-flannel'); // the container the cross-VPC public-ip-overwrite step restarts
    return [crds, m];
  },
  podCidrOf(manifests) {
    const network = netConfNetwork(manifests, CONFIG_MAP);
    for (const m of manifests)
      if (m.ids().some((o) => o.kind === 'DaemonSet' && o.name === DAEMONSET)) {
        const pool = m.object('DaemonSet', DAEMONSET).container('calico-node').env('CALICO_IPV4POOL_CIDR');
        if (pool !== undefined && pool !== network) throw new Error(`canal: Calico's pool ${pool} is not flannel's network ${network ?? '(none)'}`);
      }
    return network;
  },
  rollouts: () => [
    { kind: 'daemonset', namespace: NAMESPACE, name: DAEMONSET },
    { kind: 'deployment', namespace: NAMESPACE, name: 'calico-kube-controllers' },
  ],
  nodeLabels: () => ({}),
  nodeAnnotations: () => ({}),
};

