/**
 * Terway (v1.16.x), ENIMultiIP ("terway-eniip"): pods take secondary IPs of ENIs from the node's
 * vSwitches, so there is no overlay (no MTU overhead, nothing to open between nodes) and no pod CIDR
 * of its own. Credentials: the ECS instance RAM role, or an AccessKey in a Secret terwayd reads as files.
 */
import { CNI } from '../../defaults.js';
import { crdManifest } from '../calico/crds.js';
import { Manifest } from '../manifest.js';
import type { AccessKey, CniPluginDef } from '../types.js';

const NAMESPACE = 'kube-system';
const DAEMONSET = 'terway-eniip';
/** Where terwayd (since v1.8) looks for an AccessKey before falling back to the instance RAM role. */
const ADDON_SECRET = { name: 'alibaba-addon-secret', mountPath: '/var/alibaba-addon-secret', id: 'access-key-id', secret: 'access-key-secret' } as const;
/** The Calico group is all the policy container (felix) needs; the Kubernetes ANP CRDs are left out. */
const CALICO_GROUP = 'crd.projectcalico.org';

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

export const terway: CniPluginDef = {
  name: 'terway',
  describe: (spec) =>
    `Terway ${spec.network.terway.mode === 'eni' ? 'exclusive ENI' : 'ENIMultiIP'}${spec.network.terway.networkPolicy ? ' with NetworkPolicy' : ''} (${CNI.templates.terway.split('/')[1]})`,
  encapsulationOverhead: () => 0,
  needs: () => [],
  render({ spec, template, accessKey }) {
    const t = spec.network.terway;
    const source = `${CNI.templates.terway}/terway-eniip.yaml`;
    const m = Manifest.parse(template(source), source);
    const cfg = m.object('ConfigMap', 'eni-config');
    cfg.editJson<EniConf>(['data', 'eni_conf'], (conf) => {
      for (const key of ['vswitches', 'security_groups', 'service_cidr', 'max_pool_size', 'min_pool_size', 'vswitch_selection_policy'] as const)
        if (!(key in conf)) cfg.fail(`eni_conf has no ${key}`);
      conf.vswitches = t.vswitches;
      conf.security_groups = t.securityGroups;
      conf.service_cidr = spec.kubernetes.serviceSubnet;
      conf.max_pool_size = t.maxPoolSize;
      conf.min_pool_size = t.minPoolSize;
      conf.vswitch_selection_policy = t.vswitchSelectionPolicy;
      // the chart's default "crd" IPAM hands IP allocation to terway-controlplane, a Deployment with
      // its own cloud credentials; knit installs the self-contained daemon, which allocates on each node
      delete conf.ipam_type;
    });
    cfg.replace(['data', 'disable_network_policy'], t.networkPolicy ? 'false' : 'true');
    // "ebpf" runs Cilium, whose CRDs only terway-controlplane installs; "iptables" runs felix on Calico's CRDs
    if (t.networkPolicy) cfg.editJson(['data', '10-terway.conf'], (conf) => void (conf.network_policy_provider = 'iptables'));
    if (accessKey) {
      const ds = m.object('DaemonSet', DAEMONSET);
      ds.append(['spec', 'template', 'spec', 'volumes'], { name: ADDON_SECRET.name, secret: { secretName: ADDON_SECRET.name, optional: true } });
      ds.container('terway').append('volumeMounts', { name: ADDON_SECRET.name, mountPath: ADDON_SECRET.mountPath, readOnly: true });
    }
    const calicoCrds = `${CNI.templates.calico}/crds.yaml`;
    return [
      ...(t.networkPolicy ? [crdManifest(template(calicoCrds), calicoCrds, (row) => row.group === CALICO_GROUP)] : []),
      ...(accessKey ? [Manifest.fromObjects([accessKeySecret(accessKey)], 'knit: Terway AccessKey')] : []),
      m,
    ];
  },
  podCidrOf: () => undefined,
  rollouts: () => [{ kind: 'daemonset', namespace: NAMESPACE, name: DAEMONSET }],
  nodeAnnotations: () => ({}),
  nodeLabels: (spec): Record<string, string> => (spec.network.terway.mode === 'eni' ? { [CNI.terwayExclusiveEniLabel]: 'eniOnly' } : {}),
};
