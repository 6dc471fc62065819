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

interface ObjectHead {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}

/** Custom resources: their schema is the CRD applied before them, not the Kubernetes API's. */
const isCalicoResource = (o: ObjectHead): boolean => o.apiVersion?.startsWith('crd.projectcalico.org/') === true;

export interface ValidationProblem {
  object: string;
  message: string;
}

/** Every problem among these objects; an object with no schema is one, unless it is a custom resource. */
export async function validateObjects(objects: readonly ObjectHead[], isCustomResource = isCalicoResource): Promise<ValidationProblem[]> {
  const problems: ValidationProblem[] = [];
  for (const o of objects) {
    if (isCustomResource(o)) continue;
    const object = `${o.kind ?? '?'} ${o.metadata?.name ?? '?'}`;
    const key = `${o.apiVersion}/${o.kind}`;
    const load = MODELS[key];
    if (!load) {
      problems.push({ object, message: `knit has no schema for ${key}` });
      continue;
    }
    const Model = await load();
    try {
      new Model(o as never).validate();
    } catch (e) {
      problems.push({ object, message: (e as Error).message.split('\n')[0]! });
    }
  }
  return problems;
}

/** Every problem in a multi-document manifest; empty when each object passes its kind's schema. */
export const validateManifest = (yaml: string): Promise<ValidationProblem[]> =>
  validateObjects(parseAllDocuments(yaml).map((d) => d.toJS() as ObjectHead | null).filter((o): o is ObjectHead => o !== null));
