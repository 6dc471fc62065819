/**
 * The likely cause of a failed check, in the operator's terms: which path is broken, and what to look
 * at. Written from the traps the seeds hit: UDP 8472 blocked by a security group, no cross-VPC NAT,
 * Terway pod vSwitches without SNAT, `kubectl exec/logs` timing out because the apiserver cannot reach
 * a kubelet whose InternalIP is private in another VPC.
 */
import type { CauseContext, CheckResult, ClusterNode } from './types.js';

const node = (ctx: CauseContext, name: string): ClusterNode | undefined => ctx.nodes.find((n) => n.name === name);
const ipOf = (ctx: CauseContext, name: string): string => node(ctx, name)?.internalIP ?? 'its InternalIP';
const uses = (ctx: CauseContext, plugin: string): boolean => ctx.plugins.includes(plugin);
const needs = (ctx: CauseContext): string => (ctx.datapathNeeds.length > 0 ? ctx.datapathNeeds.join(', ') : "the CNI's data path");

function kubeletCause(r: CheckResult, ctx: CauseContext): string {
  const n = r.check.from;
  const planes = ctx.nodes.filter((x) => x.controlPlane && x.name !== n);
  const crossVpc = planes.some((cp) => ctx.crossVpc(cp.name, n));
  const unreachable = r.timedOut || /dial(ing)? |10250|no route to host|connection refused|i\/o timeout/i.test(`${r.detail}\n${r.output ?? ''}`);
  if (!unreachable) return `kubectl could not ${r.check.kind} into the probe pod on ${n}: ${r.detail}`;
  const base = `the apiserver cannot reach the kubelet on ${n} (TCP 10250 at ${ipOf(ctx, n)})`;
  if (crossVpc)
    return (
      `${base}: ${n} is in another VPC than the control plane (${planes.map((p) => p.name).join(', ')}) and its InternalIP is private there; ` +
      `the control plane needs the cross-VPC NAT mapping (\`knit crossvpc status\` on it) and ${n}'s security group must allow TCP 10250 from the control plane's public IP`
    );
  return `${base}: ${n}'s security group or firewalld must allow TCP 10250 from the control plane, and the kubelet must be running (\`systemctl status kubelet\` on ${n})`;
}

function podPodCause(r: CheckResult, ctx: CauseContext): string {
  const { from, to } = r.check;
  if (to === undefined || to === from)
    return `the CNI on ${from} does not deliver pod traffic between its own pods: check its CNI pod and /etc/cni/net.d (\`knit doctor\` on ${from})`;
  if (/answered/.test(r.detail))
    return `${r.check.target} answered as another pod: two pods share an address (a stale IPAM allocation or overlapping pod CIDRs); check the CNI's IPAM on ${to}`;
  if (ctx.crossVpc(from, to)) {
    return (
      `the CNI data path between ${from} and ${to} (different VPCs) is blocked: both nodes' security groups must allow ${needs(ctx)} from the other's public IP, ` +
      'and the cross-VPC address map must be in place on both (`knit crossvpc status`, `knit doctor`)'
    );
  }
  if (uses(ctx, 'terway'))
    return `pods on ${from} cannot reach pods on ${to}: the security group of the pods' ENIs must allow traffic from the pod vSwitches, and rp_filter/FORWARD must let it through on both nodes (\`knit doctor\`)`;
  return `the CNI data path between ${from} and ${to} is blocked: the security group and firewalld on both nodes must allow ${needs(ctx)} between them`;
}

function internetCause(r: CheckResult, ctx: CauseContext): string {
  const n = r.check.from;
  const byName = !/^\d+\.\d+\.\d+\.\d+:/.test(r.check.target);
  const dns = byName ? ` (${r.check.target.split(':')[0]} is a name: check pod → DNS from ${n} too)` : '';
  if (uses(ctx, 'terway'))
    return (
      `pods on ${n} cannot reach the internet${dns}: Terway pods use vSwitch addresses, not the node's, so they leave the VPC only through ` +
      `an SNAT entry for the pod vSwitch on the VPC's NAT gateway (or an EIP per ENI); add SNAT for the pod vSwitch(es) of ${n}'s zone`
    );
  const masq = uses(ctx, 'calico') ? "Calico's natOutgoing on the IP pool" : "flannel's --ip-masq";
  return (
    `pods on ${n} cannot reach ${r.check.target}${dns}: pod traffic is not masqueraded (${masq}; \`iptables -t nat -S POSTROUTING\` on ${n}) ` +
    `or ${n} itself has no way out (an EIP, or SNAT for its vSwitch on a NAT gateway)`
  );
}

function externalCause(r: CheckResult, ctx: CauseContext): string {
  const n = r.check.from;
  const source = uses(ctx, 'terway')
    ? `with Terway the source is the pod's own vSwitch address, so allow the pod vSwitch CIDRs`
    : `masqueraded pod traffic leaves with ${n}'s address (${ipOf(ctx, n)} inside the VPC, its public IP outside)`;
  return (
    `pods on ${n} cannot reach ${r.check.target}: the external host's security group or firewall must allow ${n} (${source}), ` +
    `and ${r.check.target} must be reachable at that address from ${n}'s VPC (a private address in another VPC is not)`
  );
}

function dnsCause(r: CheckResult, ctx: CauseContext): string {
  const n = r.check.from;
  return (
    `cluster DNS did not answer ${ctx.dnsName} from ${n}: check that the CoreDNS pods are Running (kubectl -n kube-system get pods -l k8s-app=kube-dns) ` +
    `and that ${n} reaches pods on their nodes (pod → pod); CoreDNS on a node in another VPC than the control plane cannot reach the apiserver ` +
    `through the kubernetes Service (a known limit of the cross-VPC mapping)`
  );
}

function serviceCause(r: CheckResult, ctx: CauseContext): string {
  const n = r.check.from;
  if (/answered/.test(r.detail)) return `${ctx.serviceIP ?? 'the Service IP'} answered, but not from a probe pod: the Service range overlaps another network on ${n}`;
  return (
    `kube-proxy on ${n} does not forward traffic to the Service ${r.check.target}: check the kube-proxy pod on ${n} and its rules ` +
    `(\`iptables-save | grep KUBE-SVC\`, or \`ipvsadm -Ln\`); when pod → pod from ${n} fails too, fix that first`
  );
}

function nodeReadyCause(r: CheckResult): string {
  const n = r.check.from;
  if (/NetworkPluginNotReady|cni|network not ready/i.test(r.detail))
    return `the CNI is not running on ${n} (the kubelet reports the network not ready): see ${n}'s CNI pod below and \`knit doctor\` on ${n}`;
  if (/NodeStatusUnknown|stopped posting/i.test(r.detail))
    return `the kubelet on ${n} stopped reporting: is it running (\`systemctl status kubelet\`), and can it reach the apiserver at the control plane endpoint?`;
  return `${n} is not Ready: \`kubectl describe node ${n}\` and \`journalctl -u kubelet\` on ${n}`;
}

function cniPodsCause(r: CheckResult): string {
  const n = r.check.from;
  if (/no pod of/.test(r.detail)) return `the CNI is not installed for ${n}: apply it (\`knit init\`'s cni phase) or check the DaemonSet's node selector`;
  if (/CrashLoopBackOff|Error/.test(r.detail))
    return `a CNI pod on ${n} keeps failing: read its logs (kubectl -n <namespace> logs <pod> --previous); across VPCs it often cannot reach the apiserver`;
  if (/ImagePull|ErrImage/.test(r.detail)) return `${n} cannot pull the CNI image: use --mirror cn or --image-registry`;
  return `the CNI pods on ${n} are not running yet: kubectl describe the pod named above`;
}

function probeCause(r: CheckResult, ctx: CauseContext): string {
  const n = r.check.from;
  if (/ImagePull|ErrImage/.test(r.detail)) return `${n} cannot pull ${ctx.probeImage}: use --mirror cn or --image-registry for a registry it can reach`;
  if (/ContainerCreating|FailedCreatePodSandBox/.test(r.detail))
    return `the CNI on ${n} cannot set up pod networking (the pod stays ContainerCreating): check its CNI pod and /etc/cni/net.d (\`knit doctor\`)`;
  return `the probe pod on ${n} did not become ready: kubectl describe it (--keep leaves the namespace)`;
}

export function likelyCause(r: CheckResult, ctx: CauseContext): string | undefined {
  if (r.status !== 'fail') return undefined;
  switch (r.check.kind) {
    case 'node-ready':
      return nodeReadyCause(r);
    case 'cni-pods':
      return cniPodsCause(r);
    case 'probe':
      return probeCause(r, ctx);
    case 'exec':
    case 'logs':
      return kubeletCause(r, ctx);
    case 'pod-pod':
      return podPodCause(r, ctx);
    case 'pod-service':
      return serviceCause(r, ctx);
    case 'pod-dns':
      return dnsCause(r, ctx);
    case 'pod-internet':
      return internetCause(r, ctx);
    case 'pod-external':
      return externalCause(r, ctx);
  }
}
