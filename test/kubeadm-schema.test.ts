import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
// The helper is plain JS (shared with a `node` fake-kubeadm); its types are restated below.
import * as schemaModule from './helpers/kubeadm-schema.mjs';

interface DocumentRef {
  apiVersion: string;
  kind: string;
}
interface ValidationResult {
  errors: string[];
  warnings: string[];
  documents: DocumentRef[];
}
interface SchemaModule {
  validateKubeadmConfig(yamlText: string, opts?: { kubeadmVersion?: string }): ValidationResult;
  knownKinds(): DocumentRef[];
}
const { validateKubeadmConfig, knownKinds } = schemaModule as SchemaModule;

const INIT_V1BETA4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: abcdef.0123456789abcdef
    description: knit bootstrap token
    ttl: 24h0m0s
    usages: [signing, authentication]
    groups: [system:bootstrappers:kubeadm:default-node-token]
nodeRegistration:
  name: cp-1
  criSocket: unix:///var/run/containerd/containerd.sock
  taints:
    - key: node-role.kubernetes.io/control-plane
      effect: NoSchedule
  kubeletExtraArgs:
    - name: node-ip
      value: 172.16.0.10
    - name: v
      value: "4"
  ignorePreflightErrors: [NumCPU]
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
localAPIEndpoint:
  advertiseAddress: 172.16.0.10
  bindPort: 6443
certificateKey: e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204
skipPhases: [addon/kube-proxy]
patches:
  directory: /etc/knit/patches
timeouts:
  controlPlaneComponentHealthCheck: 4m0s
  kubeletHealthCheck: 4m0s
  kubernetesAPICall: 1m0s
  tlsBootstrap: 5m0s
`;

const CLUSTER_V1BETA4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.32.4
clusterName: knit
controlPlaneEndpoint: k8s.example.com:6443
imageRepository: registry.cn-hangzhou.aliyuncs.com/google_containers
certificatesDir: /etc/kubernetes/pki
encryptionAlgorithm: RSA-2048
certificateValidityPeriod: 8760h0m0s
caCertificateValidityPeriod: 87600h0m0s
featureGates:
  ControlPlaneKubeletLocalMode: true
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
  dnsDomain: cluster.local
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs:
      - name: listen-metrics-urls
        value: http://0.0.0.0:2381
    serverCertSANs: [172.16.0.10]
    peerCertSANs: [172.16.0.10]
apiServer:
  certSANs: [k8s.example.com, 203.0.113.10, 172.16.0.10]
  extraArgs:
    - name: authorization-mode
      value: Node,RBAC
    - name: service-node-port-range
      value: 30000-32767
  extraVolumes:
    - name: audit
      hostPath: /etc/kubernetes/audit
      mountPath: /etc/kubernetes/audit
      readOnly: true
      pathType: DirectoryOrCreate
  extraEnvs:
    - name: HTTPS_PROXY
      value: http://proxy.internal:3128
controllerManager:
  extraArgs:
    - name: node-cidr-mask-size
      value: "24"
scheduler:
  extraArgs:
    - name: bind-address
      value: 0.0.0.0
dns:
  disabled: false
proxy:
  disabled: false
`;

const KUBELET = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
containerRuntimeEndpoint: unix:///var/run/containerd/containerd.sock
clusterDNS: [10.96.0.10]
clusterDomain: cluster.local
rotateCertificates: true
serverTLSBootstrap: false
failSwapOn: false
maxPods: 110
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
    cacheTTL: 2m0s
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 5m0s
    cacheUnauthorizedTTL: 30s
evictionHard:
  memory.available: 100Mi
  nodefs.available: 10%
systemReserved:
  cpu: 100m
  memory: 256Mi
logging:
  format: text
  flushFrequency: 5s
  verbosity: 0
  options:
    json:
      infoBufferSize: "0"
shutdownGracePeriod: 30s
shutdownGracePeriodCriticalPods: 10s
`;

const KUBEPROXY = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
clusterCIDR: 10.244.0.0/16
bindAddress: 0.0.0.0
metricsBindAddress: 0.0.0.0:10249
clientConnection:
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 5
  burst: 10
ipvs:
  scheduler: rr
  strictARP: true
  excludeCIDRs: []
  syncPeriod: 30s
  minSyncPeriod: 0s
iptables:
  masqueradeAll: false
  masqueradeBit: 14
  syncPeriod: 30s
  minSyncPeriod: 1s
conntrack:
  maxPerCore: 32768
  min: 131072
  tcpEstablishedTimeout: 24h0m0s
  tcpCloseWaitTimeout: 1h0m0s
nodePortAddresses: null
`;

const JOIN_V1BETA4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
caCertPath: /etc/kubernetes/pki/ca.crt
discovery:
  bootstrapToken:
    apiServerEndpoint: k8s.example.com:6443
    token: abcdef.0123456789abcdef
    caCertHashes:
      - sha256:0b1c6f3e0f0d0c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b
  tlsBootstrapToken: abcdef.0123456789abcdef
nodeRegistration:
  name: worker-1
  criSocket: unix:///var/run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.0.1.20
timeouts:
  discovery: 5m0s
  tlsBootstrap: 5m0s
`;

const docs = (...parts: string[]): string => parts.join('---\n');

describe('kubeadm config schema validator', () => {
  it('lists exactly the apiVersion/kind pairs kubeadm accepts in --config', () => {
    const pairs = knownKinds().map((k) => `${k.apiVersion} ${k.kind}`).sort();
    expect(pairs).toEqual(
      [
        'kubeadm.k8s.io/v1beta3 ClusterConfiguration',
        'kubeadm.k8s.io/v1beta3 InitConfiguration',
        'kubeadm.k8s.io/v1beta3 JoinConfiguration',
        'kubeadm.k8s.io/v1beta4 ClusterConfiguration',
        'kubeadm.k8s.io/v1beta4 InitConfiguration',
        'kubeadm.k8s.io/v1beta4 JoinConfiguration',
        'kubeadm.k8s.io/v1beta4 ResetConfiguration',
        'kubeadm.k8s.io/v1beta4 UpgradeConfiguration',
        'kubelet.config.k8s.io/v1beta1 KubeletConfiguration',
        'kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration',
      ].sort(),
    );
  });

  it('accepts a realistic v1beta4 Init + Cluster + Kubelet + KubeProxy document set', () => {
    const result = validateKubeadmConfig(docs(INIT_V1BETA4, CLUSTER_V1BETA4, KUBELET, KUBEPROXY));
    expect(result.errors).toEqual([]);
    expect(result.documents).toEqual([
      { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'InitConfiguration' },
      { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'ClusterConfiguration' },
      { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration' },
      { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration' },
    ]);
  });

  it('accepts a v1beta4 JoinConfiguration with discovery.bootstrapToken', () => {
    const result = validateKubeadmConfig(JOIN_V1BETA4);
    expect(result.errors).toEqual([]);
    expect(result.documents).toEqual([{ apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'JoinConfiguration' }]);
  });

  it('accepts a v1beta3 JoinConfiguration with discovery.bootstrapToken and map-style kubeletExtraArgs', () => {
    const join = `apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: k8s.example.com:6443
    token: abcdef.0123456789abcdef
    unsafeSkipCAVerification: true
  timeout: 5m0s
nodeRegistration:
  kubeletExtraArgs:
    node-ip: 10.0.1.20
controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.0.1.20
    bindPort: 6443
  certificateKey: e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204
`;
    expect(validateKubeadmConfig(join).errors).toEqual([]);
  });

  it('rejects a v1beta3-style extraArgs map inside a v1beta4 ClusterConfiguration', () => {
    const bad = CLUSTER_V1BETA4.replace(
      /apiServer:\n {2}certSANs: \[.*\]\n {2}extraArgs:\n(?: {4}.*\n)+?(?= {2}extraVolumes)/,
      'apiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\n',
    );
    expect(bad).not.toBe(CLUSTER_V1BETA4);
    const { errors } = validateKubeadmConfig(docs(INIT_V1BETA4, bad));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('ClusterConfiguration.apiServer.extraArgs: expected array of {name,value} (kubeadm.k8s.io/v1beta4)');
    expect(errors[0]).toMatch(/^\[doc 2\]/);
  });

  it('rejects v1beta4-style extraArgs lists inside v1beta3', () => {
    const { errors } = validateKubeadmConfig(`apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
    - name: node-ip
      value: 10.0.0.1
`);
    expect(errors).toEqual([
      expect.stringContaining('InitConfiguration.nodeRegistration.kubeletExtraArgs: expected map of string to string (kubeadm.k8s.io/v1beta3), got array'),
    ]);
  });

  it('rejects an unknown field and names its dotted path', () => {
    const bad = CLUSTER_V1BETA4.replace('  podSubnet: 10.244.0.0/16', '  podCIDR: 10.244.0.0/16');
    const { errors } = validateKubeadmConfig(bad);
    expect(errors).toEqual([expect.stringContaining('ClusterConfiguration.networking.podCIDR: unknown field')]);

    const nested = KUBELET.replace('    cacheTTL: 2m0s', '    cacheTTL: 2m0s\n    cacheTTLSeconds: 120');
    expect(validateKubeadmConfig(nested).errors).toEqual([
      expect.stringContaining('KubeletConfiguration.authentication.webhook.cacheTTLSeconds: unknown field'),
    ]);

    const inArray = JOIN_V1BETA4.replace('      value: 10.0.1.20', '      value: 10.0.1.20\n      Value: dup');
    expect(validateKubeadmConfig(inArray).errors).toEqual([
      expect.stringContaining('JoinConfiguration.nodeRegistration.kubeletExtraArgs[0].Value: unknown field'),
    ]);
  });

  it('rejects an unknown kind and an unsupported apiVersion', () => {
    const unknownKind = validateKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta4\nkind: MasterConfiguration\n');
    expect(unknownKind.errors).toEqual([expect.stringContaining('unknown kind "MasterConfiguration" for kubeadm.k8s.io/v1beta4')]);

    const resetInV1beta3 = validateKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta3\nkind: ResetConfiguration\n');
    expect(resetInV1beta3.errors).toEqual([expect.stringContaining('unknown kind "ResetConfiguration" for kubeadm.k8s.io/v1beta3')]);

    const oldVersion = validateKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\n');
    expect(oldVersion.errors).toEqual([expect.stringContaining('unknown apiVersion "kubeadm.k8s.io/v1beta2"')]);

    const noTypeMeta = validateKubeadmConfig('networking:\n  podSubnet: 10.244.0.0/16\n');
    expect(noTypeMeta.errors).toEqual([expect.stringContaining('apiVersion and kind are mandatory')]);
  });

  it('rejects v1beta4-only fields in v1beta3', () => {
    const init = `apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
dryRun: true
timeouts:
  controlPlaneComponentHealthCheck: 4m0s
`;
    const { errors } = validateKubeadmConfig(init);
    expect(errors).toEqual([
      expect.stringContaining('InitConfiguration.dryRun: unknown field (not in kubeadm.k8s.io/v1beta3'),
      expect.stringContaining('InitConfiguration.timeouts: unknown field (not in kubeadm.k8s.io/v1beta3'),
    ]);

    const cluster = `apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
proxy:
  disabled: true
encryptionAlgorithm: ECDSA-P256
`;
    expect(validateKubeadmConfig(cluster).errors).toEqual([
      expect.stringContaining('ClusterConfiguration.proxy: unknown field'),
      expect.stringContaining('ClusterConfiguration.encryptionAlgorithm: unknown field'),
    ]);
  });

  it('accepts dns.imageRepository (CoreDNS under a private registry) in v1beta3 and v1beta4, but not dns.disabled in v1beta3', () => {
    for (const apiVersion of ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4']) {
      const cluster = `apiVersion: ${apiVersion}\nkind: ClusterConfiguration\nimageRepository: registry.example.com/mirror\ndns:\n  imageRepository: registry.example.com/mirror/coredns\n`;
      expect(validateKubeadmConfig(cluster).errors).toEqual([]);
    }
    const v1beta3 = `apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\ndns:\n  imageRepository: r/coredns\n  disabled: true\n`;
    expect(validateKubeadmConfig(v1beta3).errors).toEqual([expect.stringContaining('ClusterConfiguration.dns.disabled: unknown field')]);
  });

  it('rejects v1beta3-only fields in v1beta4', () => {
    const cluster = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  timeoutForControlPlane: 4m0s
`;
    expect(validateKubeadmConfig(cluster).errors).toEqual([
      expect.stringContaining('ClusterConfiguration.apiServer.timeoutForControlPlane: unknown field (not in kubeadm.k8s.io/v1beta4 APIServer)'),
    ]);
    const join = JOIN_V1BETA4.replace('  tlsBootstrapToken:', '  timeout: 5m0s\n  tlsBootstrapToken:');
    expect(validateKubeadmConfig(join).errors).toEqual([expect.stringContaining('JoinConfiguration.discovery.timeout: unknown field')]);
  });

  it('rejects scalar types Go cannot decode', () => {
    const bad = `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
    - name: v
      value: 4
localAPIEndpoint:
  bindPort: "6443"
timeouts:
  kubeletHealthCheck: 240
`;
    const { errors } = validateKubeadmConfig(bad);
    expect(errors).toEqual([
      expect.stringContaining('InitConfiguration.nodeRegistration.kubeletExtraArgs[0].value: expected string (kubeadm.k8s.io/v1beta4), got integer 4'),
      expect.stringContaining('InitConfiguration.localAPIEndpoint.bindPort: expected integer'),
      expect.stringContaining('InitConfiguration.timeouts.kubeletHealthCheck: expected duration string'),
    ]);
  });

  it('checks enum-like values and duration syntax', () => {
    const bad = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
encryptionAlgorithm: ECDSA-P521
certificateValidityPeriod: 1 year
`;
    expect(validateKubeadmConfig(bad).errors).toEqual([
      expect.stringContaining('ClusterConfiguration.encryptionAlgorithm: expected one of'),
      expect.stringContaining('ClusterConfiguration.certificateValidityPeriod: expected duration string'),
    ]);
    const proxy = KUBEPROXY.replace('mode: ipvs', 'mode: userspace');
    expect(validateKubeadmConfig(proxy).errors).toEqual([expect.stringContaining('KubeProxyConfiguration.mode: expected one of')]);
  });

  it('rejects the same kind twice (even across apiVersions) and duplicate keys', () => {
    const twice = validateKubeadmConfig(docs(INIT_V1BETA4, INIT_V1BETA4));
    expect(twice.errors).toEqual([expect.stringContaining('kind "InitConfiguration" is specified twice')]);
    const mixed = validateKubeadmConfig(docs(INIT_V1BETA4, 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n'));
    expect(mixed.errors).toEqual([expect.stringContaining('kind "InitConfiguration" is specified twice')]);
    const dupKey = validateKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\ndryRun: true\ndryRun: false\n');
    expect(dupKey.errors).toEqual([expect.stringContaining('YAML error')]);
  });

  it('honours a target kubeadm version for fields added after v1.31', () => {
    const cluster = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
encryptionAlgorithm: ECDSA-P384
etcd:
  external:
    endpoints: [https://10.0.0.1:2379]
    httpEndpoints: [http://10.0.0.1:2381]
    caFile: /etc/etcd/ca.crt
    certFile: /etc/etcd/client.crt
    keyFile: /etc/etcd/client.key
`;
    expect(validateKubeadmConfig(cluster).errors).toEqual([]);
    expect(validateKubeadmConfig(cluster, { kubeadmVersion: 'v1.35.0' }).errors).toEqual([]);
    expect(validateKubeadmConfig(cluster, { kubeadmVersion: '1.33' }).errors).toEqual([
      expect.stringContaining('ClusterConfiguration.encryptionAlgorithm: value "ECDSA-P384" was added in kubeadm v1.34'),
      expect.stringContaining('ClusterConfiguration.etcd.external.httpEndpoints: field was added in kubeadm v1.35'),
    ]);
  });

  it('accepts every kubeadm config in test/golden', () => {
    const root = new URL('./golden/', import.meta.url);
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)kubeadm[^/]*\.ya?ml$/.test(f));
    for (const f of files) {
      const result = validateKubeadmConfig(readFileSync(new URL(f, root), 'utf8'));
      expect({ file: f, errors: result.errors }).toEqual({ file: f, errors: [] });
      expect(result.documents.length).toBeGreaterThan(0);
    }
  });
});
