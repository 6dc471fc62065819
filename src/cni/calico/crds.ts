/**
 * Calico's CustomResourceDefinitions, built from knit's table (templates/calico/<v>/crds.yaml) instead of
 * upstream's 9000 lines of generated schema: same names, group, version, scope and subresources, with
 * a schema that keeps every field. Calico's own components validate what they write; the apiserver
 * does not prune anything it would have kept with the full schema.
 */
import { parse } from 'yaml';
import { Manifest, TemplateDriftError } from '../manifest.js';

export interface CrdRow {
  group: string;
  version: string;
  kind: string;
  plural: string;
  scope: 'Cluster' | 'Namespaced';
  shortNames?: string[];
  statusSubresource?: boolean;
  annotations?: Record<string, string>;
}

const isRow = (r: unknown): r is CrdRow =>
  typeof r === 'object' && r !== null && ['group', 'version', 'kind', 'plural', 'scope'].every((k) => typeof (r as Record<string, unknown>)[k] === 'string');

export function crdManifest(tableText: string, source: string, include: (row: CrdRow) => boolean = () => true): Manifest {
  const table = parse(tableText) as { crds?: unknown[] } | null;
  const rows = table?.crds ?? [];
  if (rows.length === 0) throw new TemplateDriftError(source, 'no crds');
  const valid = rows.map((row) => {
    if (!isRow(row)) throw new TemplateDriftError(source, `incomplete CRD row ${JSON.stringify(row)}`);
    return row;
  });
  const objects = valid.filter(include).map((row) => {
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${row.plural}.${row.group}`, ...(row.annotations ? { annotations: row.annotations } : {}) },
      spec: {
        group: row.group,
        names: {
          kind: row.kind,
          listKind: `${row.kind}List`,
          plural: row.plural,
          singular: row.kind.toLowerCase(),
          ...(row.shortNames ? { shortNames: row.shortNames } : {}),
        },
        scope: row.scope,
        versions: [
          {
            name: row.version,
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            ...(row.statusSubresource ? { subresources: { status: {} } } : {}),
          },
        ],
      },
    };
  });
  return Manifest.fromObjects(objects, source);
}
