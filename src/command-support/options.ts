/** Option groups shared by several commands. Only commander here: this module loads with `--help`. */
import { Option, type Command } from 'commander';

export interface SpecOptions {
  config?: string;
  k8sVersion?: string;
  cni?: string;
  calicoMode?: string;
  controlPlaneEndpoint?: string;
  publicIp?: string;
  advertiseAddress?: string;
  podCidr?: string;
  serviceCidr?: string;
  imageRepository?: string;
  mirror?: string;
  imageRegistry?: string;
  nodeName?: string;
  role?: 'control-plane' | 'worker';
  /** Not a flag: a spec given as text instead of --config (the wizard's answers). */
  specText?: { name: string; text: string };
  /** Not a flag: what to run again after a failure, when not this command line (the wizard's replay). */
  resumeCommand?: string;
}

/** `repeatableNodeName`: `--node-name` may be given more than once (render: each named node's files). */
export function addSpecOptions(cmd: Command, { repeatableNodeName = false }: { repeatableNodeName?: boolean } = {}): Command {
  return cmd
    .option('-f, --config <file>', 'cluster spec (knit/v1alpha1 Cluster YAML); flags override it')
    .option('--k8s-version <version>', 'Kubernetes version, e.g. 1.32.4')
    .option('--cni <plugin>', 'CNI plugin: flannel | calico | canal | terway')
    .option('--calico-mode <mode>', 'Calico mode: ipip | crosssubnet | bgp | vxlan')
    .option('--control-plane-endpoint <host[:port]>', 'public endpoint of the API server (default: the first control plane\'s public IP; its private IP when every node is in its VPC)')
    .option('--public-ip <ip>', "this node's public IP (its EIP)")
    .option('--advertise-address <ip>', "this node's private IP (on its NIC)")
    .option('--pod-cidr <cidr>', 'pod network (default per CNI: flannel and canal 10.244.0.0/16, calico 192.168.0.0/16)')
    .option('--service-cidr <cidr>', 'service network (default 10.96.0.0/12)')
    .option('--image-repository <registry>', 'registry for the Kubernetes images')
    .addOption(new Option('--mirror <region>', 'use image mirrors for a region').choices(['none', 'cn']))
    .option('--image-registry <registry>', 'pull every image from this private registry (upstream paths kept)')
    .addOption(
      repeatableNodeName
        ? new Option('--node-name <name>', "this node's name (default: the hostname); again for more nodes' files").argParser((v: string, prev: string[] = []) => [...prev, v])
        : new Option('--node-name <name>', "this node's name (default: the hostname)"),
    );
}

export const addDryRunOption = (cmd: Command): Command =>
  cmd.option('--dry-run', 'print every command and file of the plan; change nothing');

export const addSkipOption = (cmd: Command): Command =>
  cmd.option('--skip <step...>', 'skip named steps (a group such as `kubeadm` skips all its steps)');

export const addPreflightIgnoreOption = (cmd: Command): Command =>
  cmd.option('--ignore-preflight-errors <check...>', 'go on despite these failed preflight checks (ids, groups, or all)');
