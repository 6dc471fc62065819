/**
 * Flannel (v0.28.x): net-conf.json carries the pod network and the backend; the CNI conflist's
 * delegate carries the pod MTU.
 */
import { CNI } from '../../defaults.js';
import type { Spec } from '../../spec/schema.js';
import { Manifest } from '../manifest.js';
import type { CniPluginDef } from '../types.js';

const NAMESPACE = 'kube-flannel';
const CONFIG_MAP = 'kube-flannel-cfg';
const DAEMONSET = 'kube-flannel-ds';
const WIREGUARD_PORT = 51820;
const WIREGUARD_OVERHEAD = 80;

interface NetConf {
  Network?: string;
  Backend?: Record<string, unknown>;
  [k: string]: unknown;
}
interface CniConflist {
  plugins?: { type?: string; delegate?: Record<string, unknown> }[];
}

function backendOf(spec: Spec): Record<string, unknown> {
  const f = spec.network.flannel;
  switch (f.backend) {
    case 'vxlan':
      return { Type: 'vxlan', VNI: f.vni, Port: f.port, ...(f.directRouting ? { DirectRouting: true } : {}) };
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
  render({ spec, template }, mtu) {
    const m = Manifest.parse(template(`${CNI.templates.flannel}/kube-flannel.yaml`), `${CNI.templates.flannel}/kube-flannel.yaml`);
    const cfg = m.object('ConfigMap', CONFIG_MAP);
    cfg.editJson<NetConf>(['data', 'net-conf.json'], (conf) => {
      if (conf.Network === undefined || conf.Backend === undefined) cfg.fail('net-conf.json has no Network or Backend');
      conf.Network = spec.kubernetes.podSubnet;
      conf.Backend = backendOf(spec);
    });
    cfg.editJson<CniConflist>(['data', 'cni-conf.json'], (conf) => {
      const plugin = conf.plugins?.find((p) => p.type === 'flannel');
      if (!plugin?.delegate) return cfg.fail('cni-conf.json has no flannel plugin with a delegate');
      plugin.delegate.mtu = mtu;
    });
    m.object('DaemonSet', DAEMONSET).container('kube-flannel'); // the container the cross-VPC annotation is for
    return [m];
  },
  podCidrOf(manifests) {
    for (const m of manifests) {
      if (!m.ids().some((o) => o.kind === 'ConfigMap' && o.name === CONFIG_MAP)) continue;
      const text = m.object('ConfigMap', CONFIG_MAP).get(['data', 'net-conf.json']);
      if (typeof text === 'string') return (JSON.parse(text) as NetConf).Network;
    }
    return undefined;
  },
  rollouts: () => [{ kind: 'daemonset', namespace: NAMESPACE, name: DAEMONSET }],
  nodeLabels: () => ({}),
  nodeAnnotations: () => ({}),
};
