/** Property test: whatever garbage comes in, loading either succeeds or fails with one field-named line. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { loadSpec } from '../src/spec/load.js';
import { knit } from './helpers/knit.js';

/** `field.path[0].name (--flag): message` on one line. */
export const FIELD_LINE = /^(spec|[a-zA-Z]+(\.[a-zA-Z]+|\[\d+\])*)( \(--[a-z0-9-]+\))?: \S.*$/;

const octet = fc.integer({ min: 0, max: 300 });
const ipish = fc.oneof(
  fc.tuple(octet, octet, octet, octet).map((p) => p.join('.')),
  fc.string(),
  fc.constantFrom('203.0.113.10', '172.16.0.10', '10.96.0.1', '::1', ''),
);
const cidrish = fc.oneof(fc.tuple(ipish, fc.integer({ min: -1, max: 40 })).map(([ip, n]) => `${ip}/${n}`), fc.string());
const anyValue = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }));

const flagsArb = fc.record(
  {
    k8sVersion: fc.oneof(fc.string(), fc.constantFrom('1.32.4', '1.20.0', '2.0.0', '1.30')),
    cni: fc.oneof(fc.string(), fc.constantFrom('flannel', 'calico', 'terway')),
    controlPlaneEndpoint: fc.oneof(fc.string(), fc.tuple(ipish, fc.integer({ min: -5, max: 70000 })).map(([h, p]) => `${h}:${p}`)),
    publicIp: ipish,
    advertiseAddress: ipish,
    podCidr: cidrish,
    serviceCidr: cidrish,
    nodeName: fc.string(),
  },
  { requiredKeys: [] },
);

const fileArb = fc.record(
  {
    kubernetes: fc.dictionary(fc.constantFrom('version', 'podSubnet', 'serviceSubnet', 'controlPlaneEndpoint', 'bogus'), anyValue),
    network: fc.oneof(anyValue, fc.record({ plugin: anyValue })),
    nodes: fc.oneof(
      anyValue,
      fc.array(fc.record({ name: fc.oneof(fc.string(), fc.constant('n1')), role: anyValue, privateIP: ipish, publicIP: ipish }, { requiredKeys: [] }), {
        maxLength: 3,
      }),
    ),
    mirror: anyValue,
  },
  { requiredKeys: [] },
);

describe('fuzzed input', () => {
  it('never throws anything but a UsageError with one field-named line', () => {
    fc.assert(
      fc.property(flagsArb, fc.option(fileArb), (flags, file) => {
        try {
          loadSpec({ flags, file: file === null ? undefined : { name: 'f.yaml', text: JSON.stringify(file) }, hostname: 'h' });
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          const message = (e as Error).message;
          expect(message.includes('\n')).toBe(false);
          if (!message.startsWith('f.yaml')) expect(message).toMatch(FIELD_LINE);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fuzzed flags through the real CLI', () => {
  const FLAG_NAMES = { k8sVersion: '--k8s-version', cni: '--cni', controlPlaneEndpoint: '--control-plane-endpoint', publicIp: '--public-ip',
    advertiseAddress: '--advertise-address', podCidr: '--pod-cidr', serviceCidr: '--service-cidr', nodeName: '--node-name' } as const;
  it('exits 0, or 2 with one field-named line and nothing on stdout', async () => {
    await fc.assert(
      fc.asyncProperty(flagsArb, async (flags) => {
        const argv = Object.entries(flags).flatMap(([k, v]) => [`${FLAG_NAMES[k as keyof typeof FLAG_NAMES]}=${v}`]);
        const r = await knit(['render', ...argv]);
        if (r.code === 0) return;
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        const lines = r.stderr.split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^error: /);
        if (!lines[0]!.startsWith('error: option') && !lines[0]!.startsWith('error: unknown'))
          expect(lines[0]!.slice('error: '.length)).toMatch(FIELD_LINE);
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});
