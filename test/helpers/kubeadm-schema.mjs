// @ts-check
/**
 * Field-level validator for kubeadm `--config` files, built from the real Go API types.
 *
 * Plain JavaScript ESM (JSDoc-typed) so that both vitest tests and a plain `node` fake-kubeadm
 * executable can import it. Ground truth lives in test/fixtures/kubeadm-api/*.json (one file per
 * apiVersion; provenance in test/fixtures/kubeadm-api/SOURCES.md).
 *
 * ## Field-list file format
 *
 *   {
 *     "apiVersion": "kubeadm.k8s.io/v1beta4",
 *     "source": "<where the field list was read from>",
 *     "kinds":       { "<Kind>": <TypeSpec>, ... },   // kinds accepted in a --config file
 *     "definitions": { "<Name>": <TypeSpec>, ... }    // named types, referenced with $ref
 *   }
 *
 * ## TypeSpec language (recursive)
 *
 *   { "$ref": "Name" }                              a named definition of the same file
 *   { "type": "object", "fields": { "<jsonName>": TypeSpec } }
 *                                                   CLOSED struct: only the listed JSON names
 *                                                   (embedded `json:",inline"` structs are flattened
 *                                                   into their parent; TypeMeta gives apiVersion/kind)
 *   { "type": "map", "values": TypeSpec }           Go map[string]T (keys always strings)
 *   { "type": "array", "items": TypeSpec }          Go []T
 *   { "type": "string", "enum"?: [...], "enumSince"?: {"<value>": "1.34"} }
 *   { "type": "integer" }                           Go int/int32/int64/uint32 (JSON number, integral)
 *   { "type": "number" }                            Go float32/float64
 *   { "type": "boolean" }
 *   { "type": "duration" }                          metav1.Duration: a string Go's time.ParseDuration
 *                                                   accepts ("4m0s", "30s", "1h"); numbers are rejected
 *   { "type": "durationOrInteger" }                 component-base TimeOrMetaDuration (duration string
 *                                                   or integer nanoseconds), e.g. logging.flushFrequency
 *   { "type": "quantity" }                          resource.Quantity: "100Mi", "2", or a number
 *   { "type": "time" }                              metav1.Time: an RFC 3339 string
 *   { "type": "any" }                               open: anything (e.g. corev1.EnvVarSource)
 *
 * Any TypeSpec used as a field may carry `"since": "1.33"`: the kubeadm minor version that added the
 * field to this API version. It is only enforced when `opts.kubeadmVersion` is given.
 *
 * ## What is checked, and how it maps to real kubeadm
 *
 *  - YAML is parsed as YAML 1.1 (like sigs.k8s.io/yaml / go-yaml v2 that kubeadm uses), so `yes`,
 *    `on`, `y` are booleans and `0755` is octal; timestamps and sexagesimal numbers stay strings.
 *    Duplicate keys are errors.
 *  - Each non-empty document needs apiVersion and kind, and the pair must be one kubeadm accepts in a
 *    `--config` file (kubeadm.k8s.io v1beta3/v1beta4 kinds, KubeletConfiguration, KubeProxyConfiguration).
 *    The same kind twice is an error, even with different apiVersions (kubeadm: "kind %q is specified
 *    twice in YAML file").
 *  - Every key must be a JSON field name of the Go type at that path. (Real kubeadm decodes strictly
 *    and prints unknown/duplicate fields as warnings, then ignores them; these tests treat them as
 *    errors because a field kubeadm silently ignores is a rendering bug.)
 *  - Every value must have a JSON type the Go type decodes: e.g. a number or boolean where Go has a
 *    string fails in real kubeadm ("cannot unmarshal number into Go struct field ... of type string"),
 *    a map where v1beta4 has []Arg fails ("cannot unmarshal object into ... of type []v1beta4.Arg").
 *    `null` is accepted everywhere (Go leaves the zero value).
 *  - Enum-like strings with a fixed value set in Go/kubeadm validation (imagePullPolicy, taint effect,
 *    hostPath type, encryptionAlgorithm, kube-proxy mode, ...) are checked against that set.
 *
 * Error messages name the document and the dotted path, e.g.
 *   `[doc 2] ClusterConfiguration.apiServer.extraArgs: expected array of {name,value} (kubeadm.k8s.io/v1beta4), got object`
 */

import { readFileSync, readdirSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/**
 * @typedef {{ $ref: string, since?: string }} RefSpec
 * @typedef {{ type: 'object', fields: Record<string, TypeSpec>, since?: string }} ObjectSpec
 * @typedef {{ type: 'map', values: TypeSpec, since?: string }} MapSpec
 * @typedef {{ type: 'array', items: TypeSpec, since?: string }} ArraySpec
 * @typedef {{ type: 'string', enum?: string[], enumSince?: Record<string, string>, since?: string }} StringSpec
 * @typedef {{ type: 'integer' | 'number' | 'boolean' | 'duration' | 'durationOrInteger' | 'quantity' | 'time' | 'any', since?: string }} ScalarSpec
 * @typedef {RefSpec | ObjectSpec | MapSpec | ArraySpec | StringSpec | ScalarSpec} TypeSpec
 * @typedef {{ apiVersion: string, source?: string, kinds: Record<string, TypeSpec>, definitions: Record<string, TypeSpec> }} ApiFile
 * @typedef {{ apiVersion: string, kind: string }} DocumentRef
 * @typedef {{ errors: string[], warnings: string[], documents: DocumentRef[] }} ValidationResult
 * @typedef {{ kubeadmVersion?: string }} ValidateOptions
 */

const FIXTURES_DIR = new URL('../fixtures/kubeadm-api/', import.meta.url);

/** @type {Map<string, ApiFile> | undefined} */
let cache;

/**
 * All field lists, keyed by apiVersion.
 * @returns {Map<string, ApiFile>}
 */
export function loadApiFiles() {
  if (cache) return cache;
  cache = new Map();
  for (const name of readdirSync(FIXTURES_DIR).sort()) {
    if (!name.endsWith('.json')) continue;
    /** @type {ApiFile} */
    const file = JSON.parse(readFileSync(new URL(name, FIXTURES_DIR), 'utf8'));
    cache.set(file.apiVersion, file);
  }
  return cache;
}

/**
 * The apiVersion/kind pairs accepted in a kubeadm `--config` file.
 * @returns {DocumentRef[]}
 */
export function knownKinds() {
  /** @type {DocumentRef[]} */
  const out = [];
  for (const file of loadApiFiles().values()) {
    for (const kind of Object.keys(file.kinds)) out.push({ apiVersion: file.apiVersion, kind });
  }
  return out;
}

// Go time.ParseDuration: "0", or a sequence of decimal numbers with unit suffixes, optional sign.
const DURATION_RE = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;
// resource.Quantity string form.
const QUANTITY_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;
// metav1.Time (RFC 3339).
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * @param {ApiFile} file
 * @param {TypeSpec} spec
 * @returns {{ spec: Exclude<TypeSpec, RefSpec>, name?: string }}
 */
function resolve(file, spec) {
  /** @type {string | undefined} */
  let name;
  let cur = spec;
  for (let i = 0; i < 32 && '$ref' in cur; i++) {
    name = cur.$ref;
    const next = file.definitions[name];
    if (!next) throw new Error(`${file.apiVersion}: unknown $ref ${name}`);
    cur = next;
  }
  if ('$ref' in cur) throw new Error(`${file.apiVersion}: $ref loop at ${name}`);
  return { spec: cur, name };
}

/**
 * Human description of a type, e.g. "array of {name,value}".
 * @param {ApiFile} file
 * @param {TypeSpec} spec
 * @returns {string}
 */
function describe(file, spec) {
  const { spec: s, name } = resolve(file, spec);
  switch (s.type) {
    case 'object': {
      const keys = Object.keys(s.fields).filter((k) => k !== 'apiVersion' && k !== 'kind');
      if (keys.length <= 4) return `{${keys.join(',')}}`;
      return name ? `object ${name}` : `object {${keys.slice(0, 4).join(',')},...}`;
    }
    case 'array':
      return `array of ${describe(file, s.items)}`;
    case 'map':
      return `map of string to ${describe(file, s.values)}`;
    case 'string':
      return s.enum ? `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` : 'string';
    case 'duration':
      return 'duration string (e.g. "4m0s")';
    case 'durationOrInteger':
      return 'duration string or integer nanoseconds';
    case 'quantity':
      return 'quantity (e.g. "100Mi")';
    case 'time':
      return 'RFC 3339 time string';
    default:
      return s.type;
  }
}

/**
 * @param {unknown} v
 * @returns {string}
 */
function describeValue(v) {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * @param {string} path
 * @param {string} key
 */
function joinKey(path, key) {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * "v1.31.2" / "1.31" → [1, 31]
 * @param {string} v
 * @returns {[number, number]}
 */
function parseMinor(v) {
  const m = /^v?(\d+)\.(\d+)/.exec(v.trim());
  if (!m) throw new Error(`invalid kubeadm version ${JSON.stringify(v)} (want e.g. "1.31" or "v1.31.2")`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * @param {string} since
 * @param {string | undefined} target
 */
function tooNew(since, target) {
  if (!target) return false;
  const [a, b] = parseMinor(since);
  const [x, y] = parseMinor(target);
  return x < a || (x === a && y < b);
}

/**
 * @typedef {{ file: ApiFile, errors: string[], prefix: string, opts: ValidateOptions }} Ctx
 */

/**
 * @param {unknown} value
 * @param {TypeSpec} fieldSpec
 * @param {string} path
 * @param {Ctx} ctx
 */
function check(value, fieldSpec, path, ctx) {
  const { file, errors, prefix } = ctx;
  if (value === null || value === undefined) return; // JSON null: Go keeps the zero value
  if (fieldSpec.since && tooNew(fieldSpec.since, ctx.opts.kubeadmVersion)) {
    errors.push(`${prefix}${path}: field was added in kubeadm v${fieldSpec.since} (${file.apiVersion}); target is ${ctx.opts.kubeadmVersion}`);
    return;
  }
  const { spec } = resolve(file, fieldSpec);
  const mismatch = () =>
    errors.push(`${prefix}${path}: expected ${describe(file, fieldSpec)} (${file.apiVersion}), got ${describeValue(value)}`);

  switch (spec.type) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') return mismatch();
      if (spec.enum && !spec.enum.includes(value)) return mismatch();
      if (spec.enumSince?.[value] && tooNew(spec.enumSince[value], ctx.opts.kubeadmVersion)) {
        errors.push(`${prefix}${path}: value ${JSON.stringify(value)} was added in kubeadm v${spec.enumSince[value]}; target is ${ctx.opts.kubeadmVersion}`);
      }
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return mismatch();
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return mismatch();
      return;
    case 'boolean':
      if (typeof value !== 'boolean') return mismatch();
      return;
    case 'duration':
      if (typeof value !== 'string' || !DURATION_RE.test(value)) return mismatch();
      return;
    case 'durationOrInteger':
      if (typeof value === 'number' ? !Number.isInteger(value) : typeof value !== 'string' || !DURATION_RE.test(value)) return mismatch();
      return;
    case 'quantity':
      if (typeof value === 'number' ? !Number.isFinite(value) : typeof value !== 'string' || !QUANTITY_RE.test(value)) return mismatch();
      return;
    case 'time':
      if (typeof value !== 'string' || !TIME_RE.test(value)) return mismatch();
      return;
    case 'array':
      if (!Array.isArray(value)) return mismatch();
      value.forEach((item, i) => check(item, spec.items, `${path}[${i}]`, ctx));
      return;
    case 'map':
      if (!isPlainObject(value)) return mismatch();
      for (const [k, v] of Object.entries(value)) check(v, spec.values, joinKey(path, k), ctx);
      return;
    case 'object': {
      if (!isPlainObject(value)) return mismatch();
      for (const [k, v] of Object.entries(value)) {
        const sub = spec.fields[k];
        if (!sub) {
          const { name } = resolve(file, fieldSpec);
          const hint = Object.keys(spec.fields).find((f) => f.toLowerCase() === k.toLowerCase());
          errors.push(
            `${prefix}${joinKey(path, k)}: unknown field (not in ${file.apiVersion} ${name ?? 'object'})` +
              (hint ? `; did you mean "${hint}"?` : ''),
          );
          continue;
        }
        check(v, sub, joinKey(path, k), ctx);
      }
      return;
    }
    default:
      throw new Error(`${file.apiVersion}: bad type spec at ${path}: ${JSON.stringify(spec)}`);
  }
}

// YAML 1.1 like go-yaml v2, minus the timestamp and sexagesimal resolvers (go-yaml leaves those as strings).
/** @param {any[]} tags */
const yaml11Tags = (tags) => tags.filter((t) => t.tag !== 'tag:yaml.org,2002:timestamp' && t.format !== 'TIME');

/**
 * Validate a (multi-document) kubeadm config file against the real API field lists.
 * @param {string} yamlText
 * @param {ValidateOptions} [opts] kubeadmVersion: also reject fields/values newer than this kubeadm (e.g. "1.31")
 * @returns {ValidationResult}
 */
export function validateKubeadmConfig(yamlText, opts = {}) {
  const files = loadApiFiles();
  /** @type {string[]} */
  const errors = [];
  /** @type {string[]} */
  const warnings = [];
  /** @type {DocumentRef[]} */
  const documents = [];
  const seen = new Set();
  const kubeadmVersions = new Set();

  const docs = parseAllDocuments(yamlText, { version: '1.1', customTags: yaml11Tags, uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const n = i + 1;
    for (const e of doc.errors) errors.push(`[doc ${n}] YAML error: ${e.message.split('\n')[0].replace(/:$/, '')}`);
    if (doc.errors.length) return;
    const js = doc.toJS({ maxAliasCount: 100 });
    if (js === null || js === undefined) return; // empty document (only comments / '---')
    if (!isPlainObject(js)) {
      errors.push(`[doc ${n}] document must be a mapping with apiVersion and kind, got ${describeValue(js)}`);
      return;
    }
    const { apiVersion, kind } = js;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !apiVersion || !kind) {
      errors.push(`[doc ${n}] apiVersion and kind are mandatory (got apiVersion=${describeValue(apiVersion)}, kind=${describeValue(kind)})`);
      return;
    }
    documents.push({ apiVersion, kind });
    const prefix = `[doc ${n}] `;
    // kubeadm (SplitConfigDocuments) keys on the kind alone: the same kind twice is an error even across versions.
    if (seen.has(kind)) errors.push(`${prefix}${kind}: kind ${JSON.stringify(kind)} is specified twice in the file`);
    seen.add(kind);

    const file = files.get(apiVersion);
    if (!file) {
      const known = [...files.keys()].join(', ');
      errors.push(`${prefix}${kind}: unknown apiVersion ${JSON.stringify(apiVersion)} (known: ${known})`);
      return;
    }
    const spec = file.kinds[kind];
    if (!spec) {
      errors.push(`${prefix}${kind}: unknown kind ${JSON.stringify(kind)} for ${apiVersion} (known: ${Object.keys(file.kinds).join(', ')})`);
      return;
    }
    if (apiVersion.startsWith('kubeadm.k8s.io/')) kubeadmVersions.add(apiVersion);
    check(js, spec, kind, { file, errors, prefix, opts });
  });

  if (kubeadmVersions.size > 1) warnings.push(`mixed kubeadm API versions in one file: ${[...kubeadmVersions].join(', ')}`);
  return { errors, warnings, documents };
}
