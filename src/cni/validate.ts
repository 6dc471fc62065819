/**
 * Kubernetes schema validation of rendered manifests, with kubernetes-models (the OpenAPI schemas of
 * the Kubernetes API, compiled to validators). Loaded only when asked for: `knit init` before the CNI
 * phase changes a cluster, `knit render --validate`, and the tests.
 */
import { parseAllDocuments } from 'yaml';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** apiVersion/kind → the kubernetes-models class that validates it (imported on first use). */
const MODELS: Record<string, () => Promise<ModelClass>> = {
  'v1/Namespace': async () => (await import('kubernetes-models/v1/Namespace')).Namespace,
  'v1/ServiceAccount': async () => (await import('kubernetes-models/v1/ServiceAccount')).ServiceAccount,
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  'v1/Secret': async () => (await import('kubernetes-models/v1/Secret')).Secret,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': async () =>
    (await import('kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration')).MutatingWebhookConfiguration,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': async () =>
    (await import('kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration')).ValidatingWebhookConfiguration,
  'rbac.authorization.k8s.io/v1/ClusterRole': async () => (await import('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole')).ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': async () =>
    (await import('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding')).ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': async () => (await import('kubernetes-models/rbac.authorization.k8s.io/v1/Role')).Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': async () => (await import('kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding')).RoleBinding,
  'apps/v1/DaemonSet': async () => (await import('kubernetes-models/apps/v1/DaemonSet')).DaemonSet,
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  'policy/v1/PodDisruptionBudget': async () => (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': async () =>
    (await import('kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition')).CustomResourceDefinition,
};

/** Every apiVersion/kind knit holds a Kubernetes schema for. */
export const SCHEMA_KINDS: readonly string[] = Object.keys(MODELS);

/**
 * The Kubernetes release whose API schemas kubernetes-models holds: its 4.5.0 moved them to v1.33.0
 * (its CHANGELOG). test/cni-schema.test.ts checks it against the schemas themselves (a 1.33 field is
 * known, a 1.34 one is not), so upgrading the package fails a test until this says the new version.
 */
export const SCHEMA_KUBERNETES_VERSION = '1.33';

interface ObjectHead {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}

/** Custom resources: their schema is the CRD applied before them, not the Kubernetes API's. */
const isCalicoResource = (o: ObjectHead): boolean => o.apiVersion?.startsWith('crd.projectcalico.org/') === true;

export interface ValidationProblem {
  /** `Kind name`. */
  object: string;
  /** The field and what is wrong with it (`spec.template.spec.containers[0].image must be string`), or why the object was not checked. */
  message: string;
  /** The field alone, in the manifest's terms (`spec.selector`); absent when the problem is the object's. */
  field?: string;
}

/** What a validation looked at, and what it found. */
export interface ManifestCheck {
  /** Objects checked against a Kubernetes API schema (problems included). */
  checked: number;
  /** Custom resources left to their CRDs (Calico's BGPConfiguration, BGPPeer, …). */
  customResources: number;
  /** The Kubernetes release of the schemas. */
  kubernetesVersion: string;
  problems: ValidationProblem[];
}

/** One error of the JSON-schema validator under kubernetes-models (ajv's shape). */
interface SchemaError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string; allowedValues?: unknown[] };
}

/** `/spec/template/spec/containers/0/image` → `spec.template.spec.containers[0].image` */
const fieldPath = (pointer: string): string =>
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');

/** A schema failure as one problem per field (its first error); the validator's first line when it lists none. */
function problemsOf(object: string, e: unknown): ValidationProblem[] {
  const errors = (e as { errors?: SchemaError[] }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return [{ object, message: String((e as Error).message).split('\n')[0]! }];
  const byField = new Map<string, ValidationProblem>();
  for (const err of errors) {
    const at = fieldPath(err.instancePath ?? '');
    const missing = err.keyword === 'required' ? err.params?.missingProperty : undefined;
    const field = missing !== undefined ? (at ? `${at}.${missing}` : missing) : at;
    const what =
      missing !== undefined ? 'is required'
      : err.keyword === 'enum' && err.params?.allowedValues ? `must be one of ${err.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
      : (err.message ?? 'is not valid');
    if (!byField.has(field)) byField.set(field, field ? { object, field, message: `${field} ${what}` } : { object, message: what });
  }
  return [...byField.values()];
}

/** Every object checked against its kind's schema; one with no schema is a problem, unless it is a custom resource. */
export async function checkObjects(objects: readonly ObjectHead[], isCustomResource = isCalicoResource): Promise<ManifestCheck> {
  const result: ManifestCheck = { checked: 0, customResources: 0, kubernetesVersion: SCHEMA_KUBERNETES_VERSION, problems: [] };
  for (const o of objects) {
    if (isCustomResource(o)) {
      result.customResources++;
      continue;
    }
    result.checked++;
    const object = `${o.kind ?? '?'} ${o.metadata?.name ?? '?'}`;
    const key = `${o.apiVersion}/${o.kind}`;
    const load = MODELS[key];
    if (!load) {
      result.problems.push({ object, message: `knit has no schema for ${key}` });
      continue;
    }
    const Model = await load();
    try {
      new Model(o as never).validate();
    } catch (e) {
      result.problems.push(...problemsOf(object, e));
    }
  }
  return result;
}

/** Every problem among these objects; an object with no schema is one, unless it is a custom resource. */
export const validateObjects = async (objects: readonly ObjectHead[], isCustomResource = isCalicoResource): Promise<ValidationProblem[]> =>
  (await checkObjects(objects, isCustomResource)).problems;

const objectsOf = (yaml: string): ObjectHead[] =>
  parseAllDocuments(yaml).map((d) => d.toJS() as ObjectHead | null).filter((o): o is ObjectHead => o !== null);

/** A multi-document manifest checked: how many objects, against which schemas, and every problem. */
export const checkManifest = (yaml: string): Promise<ManifestCheck> => checkObjects(objectsOf(yaml));

/** Every problem in a multi-document manifest; empty when each object passes its kind's schema. */
export const validateManifest = (yaml: string): Promise<ValidationProblem[]> => validateObjects(objectsOf(yaml));
