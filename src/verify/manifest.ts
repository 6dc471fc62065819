/**
 * The probe `knit verify` deploys: a namespace of its own, a DaemonSet that tolerates every taint (one
 * pod per node, control planes included) running busybox's httpd, which answers `GET /name` with the
 * pod's own name (a downward API file), and a ClusterIP Service in front of it. Built as objects and
 * serialized with `yaml`; the image follows the spec's mirror or private registry.
 */
import { stringify } from 'yaml';
import { rewriteImage, type ImageSource } from '../cni/images.js';

/** busybox has every client the checks need (wget, nc, nslookup) and a tiny HTTP server. */
export const PROBE_IMAGE = 'busybox:1.37';

export const PROBE = {
  namePrefix: 'knit-verify',
  /** DaemonSet, Service and container name. */
  workload: 'knit-verify-probe',
  container: 'probe',
  port: 8080,
  servicePort: 80,
  /** The downward API file holding the pod's name, served at `/<file>`. */
  nameFile: 'name',
  /** busybox's `nobody`: httpd needs no privilege on a port above 1024. */
  uid: 65534,
} as const;

export const PROBE_LABELS = {
  'app.kubernetes.io/name': PROBE.workload,
  'app.kubernetes.io/managed-by': 'knit',
} as const;

/** `app.kubernetes.io/name=knit-verify-probe`, for `kubectl get pods -l`. */
export const PROBE_SELECTOR = `app.kubernetes.io/name=${PROBE.workload}`;

const SUFFIX = /^[a-z0-9]{1,12}$/;

/** `knit-verify-<suffix>`; the caller picks the suffix (random in the command, fixed in tests). */
export function probeNamespace(suffix: string): string {
  if (!SUFFIX.test(suffix)) throw new Error(`namespace suffix ${JSON.stringify(suffix)} must be 1-12 characters a-z, 0-9`);
  return `${PROBE.namePrefix}-${suffix}`;
}

export const probeImage = (source: ImageSource): string => rewriteImage(PROBE_IMAGE, source);

export interface ProbeObjects {
  namespace: string;
  image: string;
  objects: Record<string, unknown>[];
}

export function probeObjects(suffix: string, source: ImageSource): ProbeObjects {
  const namespace = probeNamespace(suffix);
  const image = probeImage(source);
  const metadata = { name: PROBE.workload, namespace, labels: { ...PROBE_LABELS } };
  const ns = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'knit',
        // the probe runs as nobody, without capabilities: it passes the strictest Pod Security level
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
    },
  };
  const daemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata,
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': PROBE.workload } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '100%' } },
      template: {
        metadata: { labels: { ...PROBE_LABELS } },
        spec: {
          // every node: control planes, tainted and not-yet-ready nodes too
          tolerations: [{ operator: 'Exists' }],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          terminationGracePeriodSeconds: 1,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: PROBE.uid,
            runAsGroup: PROBE.uid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: PROBE.container,
              image,
              command: ['httpd', '-f', '-v', '-p', String(PROBE.port), '-h', '/www'],
              ports: [{ name: 'http', containerPort: PROBE.port, protocol: 'TCP' }],
              readinessProbe: { tcpSocket: { port: PROBE.port }, periodSeconds: 2 },
              resources: { requests: { cpu: '5m', memory: '8Mi' }, limits: { memory: '32Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'www', mountPath: '/www', readOnly: true }],
            },
          ],
          volumes: [
            { name: 'www', downwardAPI: { items: [{ path: PROBE.nameFile, fieldRef: { fieldPath: 'metadata.name' } }] } },
          ],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ClusterIP',
      selector: { 'app.kubernetes.io/name': PROBE.workload },
      ports: [{ name: 'http', port: PROBE.servicePort, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  return { namespace, image, objects: [ns, daemonSet, service] };
}

/** The documents for `kubectl apply --server-side -f -`: the Namespace first, so that the rest has a home. */
export const probeManifest = (p: ProbeObjects): string => p.objects.map((o) => stringify(o)).join('---\n');
