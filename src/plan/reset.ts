/**
 * `knit reset`: kubeadm reset, then what kubeadm leaves behind (kubeadm#689): CNI configuration, CNI
 * network devices, knit's own files; the user's kubeconfig only when asked.
 */
import { planCrossVpcRemove, type CrossVpcRemoveFacts } from '../crossvpc/plan.js';
import { PATHS } from '../defaults.js';
import type { Step } from '../runner/types.js';
import { KUBEADM_JOIN_CONFIG } from './join.js';

/**
 * Devices the supported CNIs create on a node (flannel VXLAN and WireGuard, also canal's flannel.1;
 * calico IPIP/VXLAN; kube-proxy IPVS). Pods' cali* veths go with their network namespaces, which
 * kubeadm reset removes with the pod sandboxes.
 */
export const CNI_DEVICES = ['flannel.1', 'flannel-wg', 'cni0', 'tunl0', 'vxlan.calico', 'kube-ipvs0'] as const;

/**
 * What flannel and Calico (and canal, which runs both) keep on the node besides /etc/cni/net.d (where
 * 10-canal.conflist and calico-kubeconfig are): flanneld's subnet.env, Calico's nodename and detected
 * mtu. Not /var/run/calico: calico-node's init container mounts bpffs and cgroup2 under it.
 */
export const CNI_STATE = ['/run/flannel', '/var/lib/calico'] as const;

export interface ResetContext {
  home: string;
  removeKubeconfig: boolean;
  /** What of knit's NAT mapping is on the host (the removal holds only what exists). */
  crossVpc: CrossVpcRemoveFacts;
}

export const planReset = ({ home, removeKubeconfig, crossVpc }: ResetContext): Step[] => [
  {
    id: 'kubeadm/reset',
    title: 'Reset the node (kubeadm reset)',
    effects: [{ kind: 'exec', argv: ['kubeadm', 'reset', '-f'], logFile: `${PATHS.logDir}/kubeadm-reset.log` }],
  },
  {
    id: 'cni/config',
    title: `Remove CNI configuration (${PATHS.cniConfDir}) and state (${CNI_STATE.join(', ')})`,
    effects: [PATHS.cniConfDir, ...CNI_STATE].map((path) => ({ kind: 'remove' as const, path })),
  },
  {
    id: 'cni/devices',
    title: 'Delete CNI network devices',
    // `ip link delete` of a device that is not there exits 1 ("Cannot find device"): nothing to do
    effects: CNI_DEVICES.map((dev) => ({ kind: 'exec' as const, argv: ['ip', 'link', 'delete', dev] as [string, ...string[]], okExitCodes: [1] })),
  },
  {
    id: 'knit/files',
    title: "Remove knit's kubeadm configuration",
    effects: [PATHS.kubeadmConfig, KUBEADM_JOIN_CONFIG].map((path) => ({ kind: 'remove' as const, path })),
  },
  ...planCrossVpcRemove(crossVpc),
  ...(removeKubeconfig
    ? [{ id: 'kubeconfig', title: 'Remove the admin kubeconfig of this user', effects: [{ kind: 'remove' as const, path: `${home}/.kube/config` }] }]
    : []),
];
