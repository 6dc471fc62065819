/** Pinned versions, paths, chain names, ports and timeouts. No such literals elsewhere. */

export const SPEC_API_VERSION = 'knit/v1alpha1';
export const SPEC_KIND = 'Cluster';

export const KUBERNETES = {
  defaultVersion: '1.34.2',
  /** Oldest and newest minor knit renders for (inclusive). */
  minMinor: 28,
  maxMinor: 35,
  /** kubeadm.k8s.io/v1beta4 is served from 1.31 on; v1beta3 below. */
  v1beta4FromMinor: 31,
  apiServerPort: 6443,
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
  criSocket: 'unix:///var/run/containerd/containerd.sock',
  /** kube-controller-manager's default --node-cidr-mask-size for IPv4. */
  nodeCidrMaskSize: 24,
  /** The apiserver refuses IPv4 service ranges larger than /12. */
  maxServiceSubnetPrefix: 12,
  /** The largest cluster Kubernetes supports ("Considerations for large clusters"): the spec's nodes. */
  maxNodes: 5000,
} as const;

export const IMAGE_REPOSITORIES = {
  default: 'registry.k8s.io',
  /** `--mirror cn`: Alibaba Cloud's mirror of the Kubernetes images, reachable from mainland China. */
  cn: 'registry.cn-hangzhou.aliyuncs.com/google_containers',
} as const;

/**
 * The pause (sandbox) image tag kubeadm uses, by Kubernetes minor: `PauseVersion` in kubeadm's
 * cmd/kubeadm/app/constants/constants.go on each release branch (3.9 since 1.26, kubernetes#113895;
 * 3.10 since 1.31, kubernetes#125112; 3.10.1 since 1.34, kubernetes#130713). containerd must run
 * pods on `<imageRepository>/pause:<this>`, or kubeadm warns and pulls from where containerd says.
 */
export const PAUSE_VERSION_BY_MINOR: Record<number, string> = {
  28: '3.9',
  29: '3.9',
  30: '3.9',
  31: '3.10',
  32: '3.10',
  33: '3.10',
  34: '3.10.1',
  35: '3.10.1',
};

/** containerd: its config file, the drop-in knit writes where that file imports conf.d, and its unit. */
export const CONTAINERD = {
  config: '/etc/containerd/config.toml',
  dropInDir: '/etc/containerd/conf.d',
  dropIn: '/etc/containerd/conf.d/90-knit-sandbox.toml',
  unit: 'containerd',
} as const;

export const POD_SUBNET_BY_CNI = {
  flannel: '10.244.0.0/16',
  calico: '192.168.0.0/16',
  terway: '172.20.0.0/16',
  canal: '10.244.0.0/16',
} as const;

export const PATHS = {
  knitConfigDir: '/etc/knit',
  kubeadmConfig: '/etc/knit/kubeadm-config.yaml',
  stateDir: '/var/lib/knit',
  journal: '/var/lib/knit/journal.jsonl',
  backupDir: '/var/lib/knit/backup',
  logDir: '/var/log/knit',
  adminConf: '/etc/kubernetes/admin.conf',
  kubeletConf: '/etc/kubernetes/kubelet.conf',
  cniConfDir: '/etc/cni/net.d',
} as const;

export const CROSSVPC = {
  /** knit's nftables table (family ip): the stateless address map for peers outside the VPC. */
  nftFamily: 'ip',
  nftTable: 'knit',
  /** The ruleset the boot unit loads with `nft -f` (one atomic transaction, safe to load again). */
  rulesFile: '/etc/knit/crossvpc.nft',
  unitName: 'knit-crossvpc.service',
  unitPath: '/etc/systemd/system/knit-crossvpc.service',
  /** Path MTU assumed between VPCs (over the internet) unless crossvpc.mtu says otherwise; TCP MSS = MTU - 40. */
  defaultMtu: 1400,
  /** Hooks of the two chains: after all NAT on the way out, before conntrack (-200) on the way in. */
  outPriority: 300,
  inPriority: -310,
  /** Connections dialled to a peer's public IP are DNATed to its private IP where NAT does it (dstnat). */
  dnatPriority: -100,
  /** What earlier knit versions (iptables nat DNAT/SNAT) left, removed by apply and remove. */
  legacy: {
    chain: 'KNIT-CROSSVPC',
    inputChain: 'KNIT-CROSSVPC-IN',
    rulesFile: '/etc/knit/crossvpc.rules',
  },
  /** What each node publishes for the others' maps: its VPC (a kubelet label) and its public IP (an annotation). */
  vpcLabel: 'knit.dev/vpc',
  publicIpAnnotation: 'knit.dev/public-ip',
  /** The agent that keeps the map equal to the cluster's Nodes: its unit, its settings, its state. */
  agent: {
    unitName: 'knit-crossvpc-agent.service',
    unitPath: '/etc/systemd/system/knit-crossvpc-agent.service',
    configFile: '/etc/knit/crossvpc-agent.json',
    stateFile: '/run/knit/crossvpc-agent.json',
    /** Where `knit` is when the command that installs the unit cannot tell (render, dry runs). */
    defaultCommand: '/usr/local/bin/knit',
    /** A full resync however quiet the watch is; changes are applied as they come. */
    resyncS: 60,
    /** Changes that arrive together (a scaling group adding ten nodes) are applied together. */
    debounceMs: 50,
    backoffMaxS: 30,
    /** A small young generation: the agent is long-lived and mostly idle (RSS 185 → 133 MB at 5,000 nodes). */
    nodeOptions: '--max-semi-space-size=1',
    /** The apiserver sends a watch bookmark about every minute: silence this long means a dead connection. */
    watchSilentS: 180,
  },
  /** Earlier versions set this on every node with peers in other VPCs; knit now removes it. */
  flannelPublicIpAnnotation: 'flannel.alpha.coreos.com/public-ip-overwrite',
} as const;

/** `knit render --cloud-init`: user-data that installs knit on a new instance and joins it. */
export const CLOUD_INIT = {
  /**
   * User-data ECS takes: Alibaba Cloud's user-data pages say 16 KB before Base64 encoding (newer API
   * pages allow more, 32 KB): within 16 KB it fits either.
   */
  maxUserDataBytes: 16 * 1024,
  /** Where the instance keeps knit, the spec, the join secrets (0600) and the script. */
  binary: '/usr/local/bin/knit',
  specFile: '/etc/knit/cluster.json',
  tokenFile: '/etc/knit/join-token',
  certificateKeyFile: '/etc/knit/join-certificate-key',
  script: '/etc/knit/cloud-init-join.sh',
  log: '/var/log/knit/cloud-init-join.log',
  /** `uname -m` → the arch of the knit-linux-<arch> executables. */
  arches: { x86_64: 'x64', aarch64: 'arm64' },
  /** How often the download is tried (a new instance's network may take a moment), and the pause growth. */
  downloadTries: 5,
} as const;

/** File names of the render bundle (`knit render --out DIR`). */
export const BUNDLE = {
  kubeadmConfig: 'kubeadm-config.yaml',
  cni: 'cni.yaml',
  plan: 'plan.txt',
} as const;

/** Where CNI images come from with `mirror: cn`: a pull-through mirror of ghcr.io, docker.io and quay.io. */
export const IMAGE_MIRRORS = {
  cn: {
    prefix: 'm.daocloud.io',
    /** Registries already served from mainland China (Alibaba Cloud's own), kept as they are. */
    keep: ['aliyuncs.com'],
  },
} as const;

/** The CNI phase: pinned template folders, the node-side facts render assumes offline, and waits. */
export const CNI = {
  templates: {
    flannel: 'flannel/v0.28.9',
    calico: 'calico/v3.30.7',
    terway: 'terway/v1.16.7',
    /** upstream's canal.yaml of Calico v3.30.7 (it pins flannel v0.24.4 inside) */
    canal: 'calico/v3.30.7',
  },
  /** An ECS VPC NIC's MTU; `init` reads the real interface instead. */
  offlineHostMtu: 1500,
  /** How long the CNI phase waits for each DaemonSet to roll out. */
  rolloutTimeoutS: 300,
  /** Node label that marks nodes outside Alibaba Cloud in a hybrid cluster (Terway stays off them). */
  externalNodeLabel: 'alibabacloud.com/external',
  /** Calico route reflectors: the annotation that makes a node one, and the cluster ID they share. */
  calicoRouteReflectorAnnotation: 'projectcalico.org/RouteReflectorClusterID',
  calicoRouteReflectorClusterId: '244.0.0.1',
  /** Node label that gives a node exclusive ENIs (one ENI per pod) under Terway. */
  terwayExclusiveEniLabel: 'k8s.aliyun.com/exclusive-mode-eni-type',
  /**
   * The host side of every Terway pod's veth (ENIMultiIP's pod link, and exclusive ENI's veth1 that
   * carries pod → Service traffic through the host), `cali` + 11 hex: terway's plugin/terway/cni.go
   * defaultVethPrefix. Calico names its host veths the same way.
   */
  terwayHostVethPrefix: 'cali',
} as const;

/** Alibaba Cloud: the metadata service, API timeouts, and the Terway pod budget. */
export const ALICLOUD = {
  metadataUrl: 'http://100.100.100.200/latest/meta-data/',
  /** Per-request connect/read timeout for the ECS and VPC APIs; throttled or timed-out calls are retried. */
  apiTimeoutMs: 5000,
  apiRetries: 2,
  /** The planned pods per node when the spec does not say (network.terway.podsPerNode). */
  defaultPodsPerNode: 16,
  /** An upper bound on kubelet maxPods knit accepts (the largest ECS types hold fewer than this). */
  maxPodsLimit: 2048,
  /** kubelet's own default maxPods, what a node gets when nothing sets it. */
  kubeletDefaultMaxPods: 110,
} as const;
