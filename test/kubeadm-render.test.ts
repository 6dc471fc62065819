/**
 * Rendered kubeadm configurations use only real fields of their API version (field lists built from
 * the kubeadm, kubelet and kube-proxy Go types: test/fixtures/kubeadm-api/SOURCES.md).
 */
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fillJoinConfiguration, renderInitConfig, renderJoinConfig } from '../src/kubeadm/render.js';
import { loadSpec } from '../src/spec/load.js';
import { validateKubeadmConfig } from './helpers/kubeadm-schema.mjs';

const specFor = (version: string, extra: Record<string, unknown> = {}) =>
  loadSpec({
    file: {
      name: 't.yaml',
      text: JSON.stringify({
        kubernetes: { version, controlPlaneEndpoint: '203.0.113.10' },
        nodes: [
          { name: 'cp-1', role: 'control-plane', privateIP: '172.16.0.10', publicIP: '203.0.113.10' },
          { name: 'cp-2', role: 'control-plane', privateIP: '172.16.0.11', publicIP: '203.0.113.11' },
          { name: 'w-1', role: 'worker', privateIP: '172.17.0.20', publicIP: '198.51.100.20' },
        ],
        ...extra,
      }),
    },
    hostname: 'h',
  }).spec;

const kubeadmVersion = (v: string) => v.split('.').slice(0, 2).join('.');
const SECRETS = { token: 'abcdef.0123456789abcdef', caCertHash: `sha256:${'a'.repeat(64)}`, certificateKey: 'b'.repeat(64) };

describe('rendered kubeadm configuration', () => {
  it.each(['1.28.15', '1.30.6', '1.31.0', '1.32.4', '1.34.2', '1.35.0'])('Kubernetes %s: init config has only real fields', (version) => {
    const spec = specFor(version);
    const text = renderInitConfig(spec, spec.nodes[0]!);
    const result = validateKubeadmConfig(text, { kubeadmVersion: kubeadmVersion(version) });
    expect(result.errors).toEqual([]);
    const expected = Number(version.split('.')[1]) >= 31 ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3';
    expect(result.documents.filter((d) => d.apiVersion.startsWith('kubeadm')).map((d) => d.apiVersion)).toEqual([expected, expected]);
  });

  it.each(['1.30.6', '1.32.4'])('Kubernetes %s: filled join configs (worker and control plane) have only real fields', (version) => {
    const spec = specFor(version);
    for (const node of spec.nodes.slice(1)) {
      const filled = fillJoinConfiguration(renderJoinConfig(spec, node), SECRETS);
      expect(validateKubeadmConfig(filled, { kubeadmVersion: kubeadmVersion(version) }).errors).toEqual([]);
      const join = parseAllDocuments(filled)[0]!.toJS();
      expect(join.discovery.bootstrapToken).toEqual({ apiServerEndpoint: '203.0.113.10:6443', token: SECRETS.token, caCertHashes: [SECRETS.caCertHash] });
      expect(join.controlPlane?.certificateKey).toBe(node.role === 'control-plane' ? SECRETS.certificateKey : undefined);
    }
  });

  it('the validator would catch the classic mistake: v1beta3-style extraArgs in v1beta4', () => {
    const spec = specFor('1.32.4');
    const broken = renderInitConfig(spec, spec.nodes[0]!).replace(/kubeletExtraArgs:\n\s+- name: node-ip\n\s+value: (\S+)/, 'kubeletExtraArgs:\n    node-ip: $1');
    expect(validateKubeadmConfig(broken).errors.join('\n')).toMatch(/kubeletExtraArgs/);
  });

  it('a join config refuses to be filled without its certificate key on a control plane', () => {
    const spec = specFor('1.32.4');
    expect(() => fillJoinConfiguration(renderJoinConfig(spec, spec.nodes[1]!), { token: SECRETS.token, caCertHash: SECRETS.caCertHash })).toThrow(/certificate key/);
  });

  it('any valid spec renders a config kubeadm accepts', () => {
    const arb = fc.record({
      minor: fc.integer({ min: 28, max: 35 }),
      patch: fc.integer({ min: 0, max: 20 }),
      cni: fc.constantFrom('flannel', 'calico', 'terway'),
      mirror: fc.constantFrom('none', 'cn'),
      sans: fc.array(fc.constantFrom('k8s.example.com', '192.0.2.7'), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(arb, ({ minor, patch, cni, mirror, sans }) => {
        const version = `1.${minor}.${patch}`;
        const spec = specFor(version, { network: { plugin: cni }, mirror });
        spec.kubernetes.certSANs.push(...sans);
        const result = validateKubeadmConfig(renderInitConfig(spec, spec.nodes[0]!), { kubeadmVersion: `1.${minor}` });
        expect(result.errors).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
