/**
 * Flannel (v0.28.x): net-conf.json carries the pod network and the backend. The pod MTU is flanneld's
 * per node (FLANNEL_MTU in /run/flannel/subnet.env: its interface's MTU minus the backend's overhead,
 * which the CNI plugin uses when the delegate names none), unless network.flannel.mtu sets the
 * delegate's `mtu` for every node.
 */
import { CNI } from '../../defaults.js';
import type { Spec } from '../../spec/schema.js';
import { Manifest, type ManifestObject } from '../manifest.js';
import type { CniPluginDef } from '../types.js';

const NAMESPACE = 'kube-flannel';
const CONFIG_MAP = 'kube-flannel-cfg';
const DAEMONSET = 'kube-flannel-ds';
const WIREGUARD_PORT = 51820;
const WIREGUARD_OVERHEAD = 80;

export interface NetConf {
  Network?: string;
  Backend?: Record<string, unknown>;
  [k: string]: unknown;
}
interface CniConflist {
  plugins?: { type?: string; delegate?: Record<string, unknown> }[];
}

/** net-conf.json's pod network and backend, on flannel's ConfigMap or canal's (same keys). */
export function patchNetConf(cfg: ManifestObject, network: string, backend: Record<string, unknown>): void {
  cfg.editJson<NetConf>(['data', 'net-conf.json'], (conf) => {
    if (conf.Network === undefined || conf.Backend === undefined) cfg.fail('net-conf.json has no Network or Backend');
    conf.Network = network;
    conf.Backend = backend;
  });
}

/** The pod network a rendered net-conf.json hands out. */
export function netConfNetwork(manifests: Manifest[], configMap: string): string | undefined {
  for (const m of manifests) {
    if (!m.ids().some((o) => o.kind === 'ConfigMap' && o.name === configMap)) continue;
    const text = m.object('ConfigMap', configMap).get(['data', 'net-conf.json']);
    if (typeof text === 'string') return (JSON.parse(text) as NetConf).Network;
  }
  return undefined;
}

/** VXLAN with knit's VNI and port (flannel's defaults: 1 and the kernel's 8472). */
export const vxlanBackend = (vni: number, port: number, directRouting = false): Record<string, unknown> => ({
  Type: 'vxlan',
  VNI: vni,
  Port: port,
  ...(directRouting ? { DirectRouting: true } : {}),
});

function backendOf(spec: Spec): Record<string, unknown> {
  const f = spec.network.flannel;
  switch (f.backend) {
    case 'vxlan':
      return vxlanBackend(f.vni, f.port, f.directRouting);
    case 'wireguard':
      return { Type: 'wireguard', ListenPort: WIREGUARD_PORT };
    case 'host-gw':
      return { Type: 'host-gw' };
  }
}

export const flannel: CniPluginDef = {
  name: 'flannel',
  describe: (spec) => `Flannel ${spec.network.flannel.backend} (${CNI.templates.flannel.split('/')[1]})`,
  // flannel's own numbers (v0.28.9): vxlan MTU = NIC - 50; wireguard_network.go `overhead = 80` (room for
  // an IPv6 outer header: 40 + UDP 8 + type 4 + key index 4 + nonce 8 + tag 16), also over IPv4
  encapsulationOverhead: (spec) => ({ vxlan: 50, wireguard: WIREGUARD_OVERHEAD, 'host-gw': 0 })[spec.network.flannel.backend],
  needs({ flannel: f }) {
    if (f.backend === 'vxlan') return [{ protocol: 'udp', number: f.port, what: 'VXLAN' }];
    if (f.backend === 'wireguard') return [{ protocol: 'udp', number: WIREGUARD_PORT, what: 'WireGuard' }];
    return [];
  },
  explicitMtu: (spec) => spec.network.flannel.mtu,
  render({ spec, template }) {
    const m = Manifest.parse(template(`${CNI.templates.flannel}/kube-flannel.yaml`), `${CNI.templates.flannel}/kube-flannel.yaml`);
    const cfg = m.object('ConfigMap', CONFIG_MAP);
    patchNetConf(cfg, spec.kubernetes.podSubnet, backendOf(spec));
    const mtu = spec.network.flannel.mtu;
    const conflist = cfg.get(['data', 'cni-conf.json']);
    const delegate = typeof conflist === 'string' ? (JSON.parse(conflist) as CniConflist).plugins?.find((p) => p.type === 'flannel')?.delegate : undefined;
    if (!delegate) return cfg.fail('cni-conf.json has no flannel plugin with a delegate');
    // unset, the template's conflist stays as upstream's: no delegate mtu, so each node takes FLANNEL_MTU
    if (delegate.mtu !== undefined && mtu === undefined) cfg.fail('cni-conf.json sets a delegate mtu for every node');
    if (mtu !== undefined)
      cfg.editJson<CniConflist>(['data', 'cni-conf.json'], (conf) => {
        conf.plugins!.find((p) => p.type === 'flannel')!.delegate!.mtu = mtu;
      });
    m.object('DaemonSet', DAEMONSET).container('kube-flannel'); // the container the cross-VPC annotation is for
    return [m];
  },
  podCidrOf: (manifests) => netConfNetwork(manifests, CONFIG_MAP),
  rollouts: () => [{ kind: 'daemonset', namespace: NAMESPACE, name: DAEMONSET }],
  nodeLabels: () => ({}),
  nodeAnnotations: () => ({}),
};
