/**
 * Terway (v1.16.x). ENIMultiIP ("terway-eniip", mode eniip): pods take secondary IPs of ENIs from the
 * node's vSwitches, allocated by terwayd on each node, so there is no overlay (no MTU overhead, nothing
 * to open between nodes) and no pod CIDR of its own. Exclusive ENI (mode eni): the same DaemonSet, on
 * nodes labelled k8s.aliyun.com/exclusive-mode-eni-type=eniOnly, switches terwayd to CRD IPAM: it waits
 * for a PodENI per pod, which terway-controlplane (a Deployment, with its CRDs and admission webhooks)
 * creates by calling the ECS API. Credentials: the ECS instance RAM role, or an AccessKey in Secrets
 * terwayd and terway-controlplane read as files.
 */
import { createHash } from 'node:crypto';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { CNI } from '../../defaults.js';
import { UsageError } from '../../errors.js';
import type { Spec } from '../../spec/schema.js';
import { crdManifest } from '../calico/crds.js';
import { Manifest, type ManifestObject } from '../manifest.js';
import type { AccessKey, CniPluginDef, Rollout } from '../types.js';

const NAMESPACE = 'kube-system';
const DAEMONSET = 'terway-eniip';
/** Where terwayd (since v1.8) looks for an AccessKey before falling back to the instance RAM role. */
const ADDON_SECRET = { name: 'alibaba-addon-secret', mountPath: '/var/alibaba-addon-secret', id: 'access-key-id', secret: 'access-key-secret' } as const;
/** The Calico group is all the policy container (felix) needs; the Kubernetes ANP CRDs are left out. */
const CALICO_GROUP = 'crd.projectcalico.org';
/**
 * Capabilities the chart gives the policy container only with the ebpf provider or datapath v2 (Cilium's
 * agent needs them); knit runs felix (provider iptables) or no engine at all.
 */
export const EBPF_ONLY_CAPABILITIES = ['CHOWN', 'IPC_LOCK', 'SYS_RESOURCE'] as const;

/** terway-controlplane: what exclusive ENI nodes need (templates/terway/<v>/terway-controlplane.yaml). */
export const CONTROLPLANE = {
  name: 'terway-controlplane',
  /** The Secret its ctrl-secret.yaml (AccessKey, or empty for the instance RAM role) comes from. */
  credentialSecret: 'terway-controlplane-credential',
  /** It creates this Secret itself (CA and serving certificate) and patches the webhooks' empty caBundle. */
  webhookCertSecret: 'terway-controlplane-webhook-cert',
  /**
   * The chart's centralized IPAM for ENIMultiIP nodes: knit's eniip nodes allocate on the node (no
   * ipam_type crd), and a mode eni cluster has no eniip nodes, so these two controllers stay off.
   */
  multiIpControllers: ['multi-ip-node', 'multi-ip-pod'],
} as const;

interface EniConf {
  vswitches?: Record<string, string[]>;
  security_groups?: string[];
  service_cidr?: string;
  max_pool_size?: number;
  min_pool_size?: number;
  vswitch_selection_policy?: string;
  ipam_type?: string;
  [k: string]: unknown;
}

const accessKeySecret = (key: AccessKey) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: ADDON_SECRET.name, namespace: NAMESPACE },
  type: 'Opaque',
  // stringData, not base64 data: the value stays recognisable to knit's output redaction
  stringData: { [ADDON_SECRET.id]: key.accessKeyId, [ADDON_SECRET.secret]: key.accessKeySecret },
});

/** The cluster id terway-controlplane tags ENIs with: as given, else derived from the control plane endpoint (stable, one per cluster). */
export const terwayClusterId = (spec: Spec): string =>
  spec.network.terway.clusterId ?? `knit-${createHash('sha256').update(spec.kubernetes.controlPlaneEndpoint).digest('hex').slice(0, 12)}`;

/** Edits YAML held in a string field (a ConfigMap or Secret key) structurally and writes it back. */
function editYaml(o: ManifestObject, path: readonly (string | number)[], edit: (doc: ReturnType<typeof parseDocument>) => void): void {
  const text = o.get(path);
  if (typeof text !== 'string') o.fail(`no YAML at ${path.join('.')}`);
  const doc = parseDocument(text);
  if (doc.errors.length > 0) o.fail(`${path.join('.')} is not YAML (${doc.errors[0]!.message.split('\n')[0]})`);
  edit(doc);
  o.replace(path, doc.toString({ lineWidth: 0 }));
}

/** Drops the policy container's ebpf-only capabilities; the rest is the chart's non-ebpf set. */
function dropEbpfCapabilities(ds: ManifestObject): void {
  const add = ds.container('policy').map.getIn(['securityContext', 'capabilities', 'add']);
  if (!isSeq(add)) return ds.fail('container policy has no securityContext.capabilities.add');
  const names = add.items.map((i) => String(isScalar(i) ? i.value : i));
  if (!EBPF_ONLY_CAPABILITIES.every((c) => names.includes(c))) return ds.fail(`container policy's capabilities are ${names.join(', ')}, not the chart's ebpf set`);
  add.items = add.items.filter((i) => !(EBPF_ONLY_CAPABILITIES as readonly string[]).includes(String(isScalar(i) ? i.value : i)));
  ds.touch();
}

/**
 * terway-controlplane for exclusive ENI: its CRDs (applied first) and the Deployment, Service, webhooks,
 * RBAC, ConfigMap and credential Secret, patched from the chart's defaults to this cluster.
 */
function controlplaneManifests(spec: Spec, read: (path: string) => string, accessKey: AccessKey | undefined): Manifest[] {
  const vpcId = spec.alicloud?.vpcId;
  if (!vpcId)
    throw new UsageError(
      'alicloud.vpcId: is required with network.terway.mode eni (terway-controlplane creates the pods\' ENIs in this VPC); detected on ECS by init and join, give it in the spec elsewhere, such as vpc-bp1abc',
    );
  const crdsSource = `${CNI.templates.terway}/crds.yaml`;
  const crds = Manifest.parse(read(crdsSource), crdsSource);
  const source = `${CNI.templates.terway}/terway-controlplane.yaml`;
  const m = Manifest.parse(read(source), source);
  const config = m.object('ConfigMap', CONTROLPLANE.name);
  editYaml(config, ['data', 'ctrl-config.yaml'], (doc) => {
    for (const key of ['regionID', 'clusterID', 'vpcID', 'clusterDomain', 'centralizedIPAM', 'controllers'])
      if (!doc.has(key)) config.fail(`ctrl-config.yaml has no ${key}`);
    // empty: terway-controlplane asks the metadata service (it runs in the host network of an ECS node)
    doc.set('regionID', spec.alicloud?.region ?? '');
    doc.set('clusterID', terwayClusterId(spec));
    doc.set('vpcID', vpcId);
    doc.set('clusterDomain', spec.kubernetes.dnsDomain);
    // knit keeps IPAM on the nodes (eni_conf has no ipam_type crd): no centralized IPAM, no multi-IP controllers
    doc.set('centralizedIPAM', false);
    const controllers = doc.get('controllers');
    if (!isSeq(controllers)) return config.fail('ctrl-config.yaml controllers is not a list');
    controllers.items = controllers.items.filter((i) => !(CONTROLPLANE.multiIpControllers as readonly string[]).includes(String(isScalar(i) ? i.value : i)));
  });
  // the same credentials as terwayd: the AccessKey, or nothing (the instance RAM role, through the metadata service)
  if (accessKey)
    editYaml(m.object('Secret', CONTROLPLANE.credentialSecret), ['stringData', 'ctrl-secret.yaml'], (doc) => {
      doc.set('accessKey', accessKey.accessKeyId);
      doc.set('accessSecret', accessKey.accessKeySecret);
    });
  const deployment = m.object('Deployment', CONTROLPLANE.name);
  // cilium-operator serves the ebpf policy provider (Cilium identities and CRDs), which knit does not run
  const containersPath = ['spec', 'template', 'spec', 'containers'];
  const containers = deployment.get(containersPath);
  const isOperator = (c: unknown): boolean => isMap(c) && c.get('name') === 'cilium-operator';
  if (!isSeq(containers) || !containers.items.some(isOperator)) return deployment.fail('no container cilium-operator');
  containers.items = containers.items.filter((c) => !isOperator(c));
  deployment.touch();
  // hybrid clusters: the controlplane needs the ECS metadata service (region, RAM role), which external nodes do not have
  if (spec.network.hybrid) deployment.requireNodeMatch({ key: CNI.externalNodeLabel, operator: 'NotIn', values: ['true'] });
  return [crds, m];
}

/** What enforces NetworkPolicy on Terway's side, as plan.txt says it (the CNI step's title). */
export const terwayPolicyEngine = (spec: Spec): string => {
  const t = spec.network.terway;
  if (t.mode === 'eni') return 'no NetworkPolicy: exclusive ENI pods bypass the host, only their security groups filter';
  return t.networkPolicy ? 'NetworkPolicy by felix (on Calico\'s CRDs)' : 'no NetworkPolicy (networkPolicy: false)';
};

export const terway: CniPluginDef = {
  name: 'terway',
  describe: (spec) =>
    spec.network.terway.mode === 'eni'
      ? `Terway exclusive ENI with terway-controlplane, ${terwayPolicyEngine(spec)} (${CNI.templates.terway.split('/')[1]})`
      : `Terway ENIMultiIP${spec.network.terway.networkPolicy ? ' with NetworkPolicy by felix' : ''} (${CNI.templates.terway.split('/')[1]})`,
  encapsulationOverhead: () => 0,
  needs: () => [],
  explicitMtu: () => undefined,
  render({ spec, template, accessKey }) {
    const t = spec.network.terway;
    const source = `${CNI.templates.terway}/terway-eniip.yaml`;
    const m = Manifest.parse(template(source), source);
    const cfg = m.object('ConfigMap', 'eni-config');
    cfg.editJson<EniConf>(['data', 'eni_conf'], (conf) => {
      for (const key of ['vswitches', 'security_groups', 'service_cidr', 'max_pool_size', 'min_pool_size', 'vswitch_selection_policy'] as const)
        if (!(key in conf)) cfg.fail(`eni_conf has no ${key}`);
      // exclusive ENI: terway-controlplane reads vswitches and security_groups from here for each PodENI
      conf.vswitches = t.vswitches;
      conf.security_groups = t.securityGroups;
      conf.service_cidr = spec.kubernetes.serviceSubnet;
      conf.max_pool_size = t.maxPoolSize;
      conf.min_pool_size = t.minPoolSize;
      conf.vswitch_selection_policy = t.vswitchSelectionPolicy;
      // the chart's default "crd" IPAM hands eniip allocation to terway-controlplane's multi-IP controllers;
      // knit keeps it in terwayd on each node (eniOnly nodes switch to CRD IPAM by their label alone)
      delete conf.ipam_type;
    });
    cfg.replace(['data', 'disable_network_policy'], t.networkPolicy ? 'false' : 'true');
    // "ebpf" runs Cilium, whose CRDs only terway-controlplane installs; "iptables" runs felix on Calico's CRDs
    if (t.networkPolicy) cfg.editJson(['data', '10-terway.conf'], (conf) => void (conf.network_policy_provider = 'iptables'));
    const ds = m.object('DaemonSet', DAEMONSET);
    dropEbpfCapabilities(ds);
    if (accessKey) {
      ds.append(['spec', 'template', 'spec', 'volumes'], { name: ADDON_SECRET.name, secret: { secretName: ADDON_SECRET.name, optional: true } });
      ds.container('terway').append('volumeMounts', { name: ADDON_SECRET.name, mountPath: ADDON_SECRET.mountPath, readOnly: true });
    }
    const calicoCrds = `${CNI.templates.calico}/crds.yaml`;
    return [
      ...(t.networkPolicy ? [crdManifest(template(calicoCrds), calicoCrds, (row) => row.group === CALICO_GROUP)] : []),
      ...(accessKey ? [Manifest.fromObjects([accessKeySecret(accessKey)], 'knit: Terway AccessKey')] : []),
      m,
      ...(t.mode === 'eni' ? controlplaneManifests(spec, template, accessKey) : []),
    ];
  },
  podCidrOf: () => undefined,
  rollouts: (spec): Rollout[] => [
    { kind: 'daemonset', namespace: NAMESPACE, name: DAEMONSET },
    ...(spec.network.terway.mode === 'eni' ? [{ kind: 'deployment' as const, namespace: NAMESPACE, name: CONTROLPLANE.name }] : []),
  ],
  nodeAnnotations: () => ({}),
  nodeLabels: (spec): Record<string, string> => (spec.network.terway.mode === 'eni' ? { [CNI.terwayExclusiveEniLabel]: 'eniOnly' } : {}),
};
