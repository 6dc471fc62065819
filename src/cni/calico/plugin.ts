/**
 * Calico (v3.30.x manifest install, Kubernetes datastore). One template, the IPIP flavour of upstream's
 * calico.yaml; the other modes are patches of the same knobs upstream's variants change.
 */
import { CNI } from '../../defaults.js';
import type { Spec } from '../../spec/schema.js';
import { Manifest } from '../manifest.js';
import type { CniPluginDef } from '../types.js';
import { crdManifest } from './crds.js';

const NAMESPACE = 'kube-system';
type Mode = Spec['network']['calico']['mode'];

/** What each mode sets; `vxlan` is upstream's calico-vxlan.yaml (no BIRD), the others run BIRD. */
const MODES: Record<Mode, { ipip: string; vxlan: string; backend: 'bird' | 'vxlan'; overhead: number }> = {
  ipip: { ipip: 'Always', vxlan: 'Never', backend: 'bird', overhead: 20 },
  crosssubnet: { ipip: 'CrossSubnet', vxlan: 'Never', backend: 'bird', overhead: 20 },
  bgp: { ipip: 'Never', vxlan: 'Never', backend: 'bird', overhead: 0 },
  // Always rather than upstream's CrossSubnet, which sends pod traffic unencapsulated within a subnet: a
  // cloud VPC routes only addresses it knows, so bare pod IPs are dropped even between neighbours
  vxlan: { ipip: 'Never', vxlan: 'Always', backend: 'vxlan', overhead: 50 },
};

/** The node label (and peer selector) of the nodes listed in network.calico.routeReflectors. */
export const ROUTE_REFLECTOR_LABEL = 'route-reflector';

const peerName = (ip: string): string => `knit-peer-${ip.replaceAll('.', '-')}`;

/** BGPConfiguration and BGPPeers (for the BIRD modes): AS number, mesh, route reflectors, external peers. */
function bgpResources(spec: Spec): { kind: string; metadata: { name: string } }[] {
  const c = spec.network.calico;
  const calico = (kind: string, name: string, body: object) => ({ apiVersion: 'crd.projectcalico.org/v1', kind, metadata: { name }, spec: body });
  return [
    calico('BGPConfiguration', 'default', { logSeverityScreen: 'Info', nodeToNodeMeshEnabled: c.nodeToNodeMesh, asNumber: c.asNumber }),
    ...(c.routeReflectors.length > 0
      ? [calico('BGPPeer', 'knit-route-reflectors', { nodeSelector: 'all()', peerSelector: `${ROUTE_REFLECTOR_LABEL} == 'true'` })]
      : []),
    ...c.peers.map((p) => calico('BGPPeer', peerName(p.ip), { peerIP: p.ip, asNumber: p.asNumber })),
  ];
}

export const calico: CniPluginDef = {
  name: 'calico',
  describe: (spec) => `Calico ${spec.network.calico.mode} (${CNI.templates.calico.split('/')[1]})`,
  encapsulationOverhead: (spec) => MODES[spec.network.calico.mode].overhead,
  needs({ calico: { mode } }) {
    if (mode === 'vxlan') return [{ protocol: 'udp', number: 4789, what: 'VXLAN' }];
    return [
      { protocol: 'tcp', number: 179, what: 'BGP' },
      ...(mode === 'bgp' ? [] : [{ protocol: 'ip' as const, number: 4, what: 'IPIP' }]),
    ];
  },
  explicitMtu: (spec) => spec.network.calico.mtu,
  render({ spec, template }) {
    const dir = CNI.templates.calico;
    const crds = crdManifest(template(`${dir}/crds.yaml`), `${dir}/crds.yaml`);
    const m = Manifest.parse(template(`${dir}/calico.yaml`), `${dir}/calico.yaml`);
    const mode = MODES[spec.network.calico.mode];
    const cfg = m.object('ConfigMap', 'calico-config');
    // "0" (upstream's): felix detects each node's host MTU, subtracts the enabled encapsulation's
    // overhead and writes /var/lib/calico/mtu, which the CNI plugin reads; a number is every node's
    cfg.replace(['data', 'veth_mtu'], String(spec.network.calico.mtu ?? 0));
    cfg.replace(['data', 'calico_backend'], mode.backend);
    const node = m.object('DaemonSet', 'calico-node').container('calico-node');
    node.setEnv('CALICO_IPV4POOL_CIDR', spec.kubernetes.podSubnet);
    node.setEnv('CALICO_IPV4POOL_IPIP', mode.ipip);
    node.setEnv('CALICO_IPV4POOL_VXLAN', mode.vxlan);
    node.setEnv('CALICO_IPV6POOL_VXLAN', mode.vxlan); // no IPv6 pool today (FELIX_IPV6SUPPORT false); kept in step
    node.setEnv('IP_AUTODETECTION_METHOD', spec.network.calico.ipAutodetectionMethod);
    if (mode.backend === 'vxlan') {
      // without BIRD, the health checks must not ask for it (as upstream's calico-vxlan.yaml)
      node.setProbeCommand('livenessProbe', ['/bin/calico-node', '-felix-live']);
      node.setProbeCommand('readinessProbe', ['/bin/calico-node', '-felix-ready']);
      return [crds, m];
    }
    return [crds, m, Manifest.fromObjects(bgpResources(spec), 'knit: Calico BGP resources')];
  },
  podCidrOf(manifests) {
    for (const m of manifests)
      if (m.ids().some((o) => o.kind === 'DaemonSet' && o.name === 'calico-node'))
        return m.object('DaemonSet', 'calico-node').container('calico-node').env('CALICO_IPV4POOL_CIDR');
    return undefined;
  },
  rollouts: () => [
    { kind: 'daemonset', namespace: NAMESPACE, name: 'calico-node' },
    { kind: 'deployment', namespace: NAMESPACE, name: 'calico-kube-controllers' },
  ],
  nodeLabels: (spec, node): Record<string, string> =>
    spec.network.calico.routeReflectors.includes(node.name) ? { [ROUTE_REFLECTOR_LABEL]: 'true' } : {},
  // a node reflects routes only with a cluster ID (Kubernetes datastore: this annotation on the node)
  nodeAnnotations: (spec, node): Record<string, string> =>
    spec.network.calico.routeReflectors.includes(node.name) ? { [CNI.calicoRouteReflectorAnnotation]: CNI.calicoRouteReflectorClusterId } : {},
};
