/**
 * What `knit netcheck` checks between this node and a peer, from the spec: the Kubernetes ports the
 * peer's role serves, the CNI's data path, and the packet size the CNI's MTU implies. Pure.
 */
import { MTU_FIELD, PLUGINS, pluginsOf, podMtu } from '../cni/index.js';
import { KUBERNETES } from '../defaults.js';
import { UsageError } from '../errors.js';
import type { Spec } from '../spec/schema.js';
import type { ListenPort, MtuRequirement, PortProbe, ProbeProtocol, Role } from './types.js';

/** The kubelet's API: the apiserver reaches every node here (`kubectl logs/exec`, metrics). */
export const KUBELET_PORT = 10250;

/** The id of the path MTU row. */
export const PATH_MTU_ID = 'path-mtu';

export const probeId = (protocol: ProbeProtocol, port: number): string => (protocol === 'ip' ? `ip/${port}` : `${port}/${protocol}`);

/** `flannel (vxlan)`, `calico (ipip)`, `terway + flannel (vxlan)`. */
export function cniLabel(spec: Spec): string {
  const label = (name: string): string =>
    name === 'flannel' ? `flannel (${spec.network.flannel.backend})` : name === 'calico' ? `calico (${spec.network.calico.mode})` : name;
  return pluginsOf(spec).map(({ def }) => label(def.name)).join(' + ');
}

/** `--port 8080/tcp 4789/udp 9000` (tcp when no protocol is given) → extra probes; bad input → UsageError. */
export function parseExtraPorts(values: readonly string[] | undefined): PortProbe[] {
  return (values ?? []).map((v) => {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(v.trim());
    const port = Number(m?.[1]);
    if (!m || port < 1 || port > 65535) throw new UsageError(`--port: ${JSON.stringify(v)} is not PORT[/tcp|/udp] (1-65535)`);
    const protocol = (m[2]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp';
    return { id: probeId(protocol, port), protocol, port, what: 'extra port (--port)', origin: 'extra', required: true };
  });
}

/**
 * The ports a peer of `role` must let through from another node: the apiserver on control planes,
 * the kubelet everywhere, and every plugin's data path (UDP for VXLAN/WireGuard, TCP 179 for BGP, IP
 * protocol 4 for IPIP), then `extra`. Ids are unique: the first mention of a port wins.
 */
export function planProbes(spec: Spec, role: Role, extra: readonly PortProbe[] = []): PortProbe[] {
  const probes: PortProbe[] = [];
  if (role === 'control-plane')
    probes.push({ id: probeId('tcp', KUBERNETES.apiServerPort), protocol: 'tcp', port: KUBERNETES.apiServerPort, what: 'kube-apiserver', origin: 'kubernetes', required: true });
  probes.push({ id: probeId('tcp', KUBELET_PORT), protocol: 'tcp', port: KUBELET_PORT, what: 'kubelet', origin: 'kubernetes', required: true });
  for (const { def } of pluginsOf(spec))
    for (const need of def.needs(spec.network))
      probes.push({ id: probeId(need.protocol, need.number), protocol: need.protocol, port: need.number, what: `${def.name} ${need.what}`, origin: 'cni', required: true });
  probes.push(...extra);
  const seen = new Set<string>();
  return probes.filter((p) => !seen.has(p.id) && seen.add(p.id));
}

/** What the listener binds: every tcp/udp probe (an IP protocol has no port to listen on). */
export const listenPorts = (probes: readonly PortProbe[]): ListenPort[] =>
  probes.flatMap((p) => (p.protocol === 'ip' ? [] : [{ protocol: p.protocol, port: p.port, what: p.what }]));

const ENCAPSULATION: Record<string, (spec: Spec) => string | undefined> = {
  flannel: (spec) => ({ vxlan: 'VXLAN', wireguard: 'WireGuard', 'host-gw': undefined })[spec.network.flannel.backend],
  calico: (spec) => ({ ipip: 'IPIP', crosssubnet: 'IPIP', vxlan: 'VXLAN', bgp: undefined })[spec.network.calico.mode],
  terway: () => undefined,
  canal: () => 'VXLAN',
};

/**
 * The packet size the path must carry: the pod MTU the CNI will settle on for an interface of
 * `hostMtu` (as `knit init` does, see cni/index.ts) plus its encapsulation. With two plugins (hybrid
 * clusters) the larger requirement counts.
 */
export function mtuRequirement(spec: Spec, hostMtu: number): MtuRequirement {
  const all = pluginsOf(spec).map(({ def }): MtuRequirement => {
    const mtu = podMtu(spec, def.name, hostMtu);
    const overhead = PLUGINS[def.name].encapsulationOverhead(spec);
    const field = MTU_FIELD[def.name];
    const encapsulation = ENCAPSULATION[def.name]?.(spec);
    const explicit = def.explicitMtu(spec) !== undefined;
    return {
      plugin: def.name,
      podMtu: mtu,
      overhead,
      required: mtu + overhead,
      hostMtu,
      explicit,
      ...(encapsulation ? { encapsulation } : {}),
      ...(field ? { field } : {}),
    };
  });
  return all.reduce((a, b) => (b.required > a.required ? b : a));
}
