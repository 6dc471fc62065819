/**
 * Structural patching of knit's manifest templates with the `yaml` Document API. Every patch names
 * what it changes (an object by kind and name, a container, an env var, a JSON key); a selector that
 * matches nothing throws TemplateDriftError, so a template upgrade breaks a test, not a cluster.
 */
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';

export class TemplateDriftError extends Error {
  constructor(source: string, what: string) {
    super(`template drift in ${source}: ${what}`);
    this.name = 'TemplateDriftError';
  }
}

type Path = readonly (string | number)[];

/**
 * Documents a patch changed. The others are written back as the template's own text: what the
 * template says is what the cluster gets, and re-serializing large untouched documents costs time.
 */
const touched = new WeakSet<Document>();

/**
 * One document of a manifest. Template documents are parsed only when a patch asks for them (a
 * release manifest has many objects knit never changes); kind and name come from the document's
 * top-level lines until then, and are checked against the parse.
 */
interface Entry {
  kind: string;
  name: string;
  text?: string;
  doc?: Document;
}

/** A YAML document marker is `---` at column 0; inside block scalars every line is indented. */
const DOC_MARKER = /^---[ \t]*(?:\n|$)/m;
const headerOf = (text: string): { kind: string; name: string } => ({
  kind: /^kind:[ \t]*["']?([\w.-]+)/m.exec(text)?.[1] ?? '',
  name: /^metadata:[ \t]*\n(?:(?:[ \t]+.*|[ \t]*#.*)?\n)*?[ \t]+name:[ \t]*["']?([^\s"'#]+)/m.exec(text)?.[1] ?? '',
});
const isBlank = (text: string): boolean => text.split('\n').every((l) => /^\s*(#.*)?$/.test(l));

/** One template (or set of objects knit builds): its documents, and where they came from (for drift messages). */
export class Manifest {
  private constructor(
    readonly source: string,
    private readonly entries: Entry[],
  ) {}

  static parse(text: string, source: string): Manifest {
    // the file's leading comment is about the template, not the objects: it stays behind
    const entries = text
      .replace(/^(?:[ \t]*(?:#.*)?\n)+/, '')
      .split(DOC_MARKER)
      .filter((chunk) => !isBlank(chunk))
      .map((chunk) => ({ ...headerOf(chunk), text: chunk.endsWith('\n') ? chunk : `${chunk}\n` }));
    return new Manifest(source, entries);
  }

  /**
   * Objects knit builds itself (CRDs, Calico BGP resources, Secrets), as a manifest. They are written
   * as JSON documents (YAML includes JSON): serializing them through the YAML library costs a
   * render about a tenth of its time, for nothing a reader or kubectl would notice.
   */
  static fromObjects(objects: { kind: string; metadata: { name: string } }[], source: string): Manifest {
    return new Manifest(
      source,
      objects.map((o) => ({ kind: o.kind, name: o.metadata.name, text: `${JSON.stringify(o, null, 2)}\n` })),
    );
  }

  private docOf(e: Entry): Document {
    if (e.doc) return e.doc;
    // knit's own templates (checked by tests): no duplicate-key scan, no pretty error positions
    const doc = parseDocument(e.text!, { uniqueKeys: false, prettyErrors: false });
    if (doc.errors.length > 0) throw new TemplateDriftError(this.source, `${e.kind} ${e.name} does not parse: ${doc.errors[0]!.message.split('\n')[0]}`);
    if (doc.get('kind') !== e.kind || doc.getIn(['metadata', 'name']) !== e.name)
      throw new TemplateDriftError(this.source, `cannot tell kind and name of the document that starts ${JSON.stringify(e.text!.slice(0, 40))}`);
    return (e.doc = doc);
  }

  private wrap(e: Entry): ManifestObject {
    return new ManifestObject(this.source, this.docOf(e), `${e.kind} ${e.name}`);
  }

  /** The object of this kind and name; throws when the template has none. */
  object(kind: string, name: string): ManifestObject {
    const e = this.entries.find((x) => x.kind === kind && x.name === name);
    if (!e) throw new TemplateDriftError(this.source, `no ${kind} ${name}`);
    return this.wrap(e);
  }

  /** Every object (all parsed), or those of the given kinds (only they are parsed). */
  objects(...kinds: string[]): ManifestObject[] {
    return this.entries.filter((e) => kinds.length === 0 || kinds.includes(e.kind)).map((e) => this.wrap(e));
  }

  /** The objects of other kinds, as a manifest of their own (e.g. a release manifest without its bundled CRDs). */
  without(...kinds: string[]): Manifest {
    return new Manifest(this.source, this.entries.filter((e) => !kinds.includes(e.kind)));
  }

  /** Kind and name of every object, without parsing. */
  ids(): { kind: string; name: string }[] {
    return this.entries.map(({ kind, name }) => ({ kind, name }));
  }

  /** Rewrites the image of every container and init container. */
  mapImages(fn: (image: string) => string): void {
    for (const o of this.objects(...WORKLOADS))
      for (const c of o.podContainers()) {
        const image = String(c.get('image'));
        const mapped = fn(image);
        if (mapped === image) continue;
        c.set('image', mapped);
        o.touch();
      }
  }

  images(): string[] {
    return [...new Set(this.objects(...WORKLOADS).flatMap((o) => o.podContainers().map((c) => String(c.get('image')))))];
  }

  toString(): string {
    return this.entries
      .map((e) => {
        // the separator is ours to write: drop the `---` a parsed document carries
        const text = e.doc && (touched.has(e.doc) || e.text === undefined) ? e.doc.toString({ lineWidth: 0 }) : e.text!;
        return text.replace(/^---[ \t]*\n/, '');
      })
      .join('---\n');
  }
}

const POD_SPEC: Record<string, Path> = {
  DaemonSet: ['spec', 'template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  Pod: ['spec'],
};
const WORKLOADS = Object.keys(POD_SPEC);

export class ManifestObject {
  constructor(
    private readonly source: string,
    readonly doc: Document,
    readonly label: string,
  ) {}

  private drift(what: string): never {
    throw new TemplateDriftError(this.source, `${this.label}: ${what}`);
  }

  get(path: Path): unknown {
    return this.doc.getIn(path);
  }

  /** Marks the object as changed (serialized anew instead of copied from the template). */
  touch(): void {
    touched.add(this.doc);
  }

  /** Replaces a value that the template must already have. */
  replace(path: Path, value: unknown): void {
    if (!this.doc.hasIn(path)) this.drift(`no ${path.join('.')}`);
    this.touch();
    this.doc.setIn(path, this.doc.createNode(value));
  }

  /** Sets a value, creating the path as needed (for fields upstream leaves at their defaults). */
  set(path: Path, value: unknown): void {
    this.touch();
    this.doc.setIn(path, this.doc.createNode(value));
  }

  /** Parses the JSON held in a string field (a ConfigMap key), edits it and writes it back. */
  editJson<T = Record<string, unknown>>(path: Path, edit: (json: T) => T | void): void {
    const text = this.doc.getIn(path);
    if (typeof text !== 'string') this.drift(`no JSON at ${path.join('.')}`);
    let json: T;
    try {
      json = JSON.parse(text) as T;
    } catch (e) {
      return this.drift(`${path.join('.')} is not JSON (${(e as Error).message})`);
    }
    const next = edit(json) ?? json;
    this.touch();
    this.doc.setIn(path, this.doc.createNode(`${JSON.stringify(next, null, 2)}\n`));
  }

  private podSpecPath(): Path {
    const p = POD_SPEC[String(this.doc.get('kind'))];
    if (!p) this.drift('has no pod template');
    return p;
  }

  /** Every container and init container of a workload (none for other kinds). */
  podContainers(): YAMLMap[] {
    const p = POD_SPEC[String(this.doc.get('kind'))];
    if (!p) return [];
    return (['initContainers', 'containers'] as const).flatMap((k) => {
      const seq = this.doc.getIn([...p, k]);
      return isSeq(seq) ? seq.items.filter(isMap) : [];
    });
  }

  /** A container (or init container) by name. */
  container(name: string, init = false): Container {
    const seq = this.doc.getIn([...this.podSpecPath(), init ? 'initContainers' : 'containers']);
    const c = isSeq(seq) ? seq.items.find((i): i is YAMLMap => isMap(i) && i.get('name') === name) : undefined;
    if (!c) this.drift(`no ${init ? 'init ' : ''}container ${name}`);
    return new Container(this, c, `${this.label} container ${name}`);
  }

  /** Adds a node-affinity term every node must match (ANDed into each existing term, if any). */
  requireNodeMatch(expression: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }): void {
    const termsPath = [...this.podSpecPath(), 'affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms'];
    const terms = this.doc.getIn(termsPath);
    this.touch();
    if (!isSeq(terms) || terms.items.length === 0) {
      this.set(termsPath, [{ matchExpressions: [expression] }]);
      return;
    }
    for (const term of terms.items) {
      if (!isMap(term)) continue;
      const exprs = term.get('matchExpressions');
      if (isSeq(exprs)) exprs.add(this.doc.createNode(expression));
      else term.set('matchExpressions', this.doc.createNode([expression]));
    }
  }

  /** Appends to a list the template must already have (volumes, ports, …). */
  append(path: Path, item: unknown): void {
    const seq = this.doc.getIn(path);
    if (!isSeq(seq)) this.drift(`no list at ${path.join('.')}`);
    this.touch();
    seq.add(this.doc.createNode(item));
  }

  /** A node for a plain value (strings that look like numbers stay strings); the object counts as changed. */
  node(value: unknown): unknown {
    this.touch();
    return this.doc.createNode(value);
  }

  fail(what: string): never {
    return this.drift(what);
  }
}

export class Container {
  constructor(
    private readonly owner: ManifestObject,
    readonly map: YAMLMap,
    private readonly label: string,
  ) {}

  private envSeq(): YAMLSeq | undefined {
    const env = this.map.get('env');
    return isSeq(env) ? env : undefined;
  }

  private envEntry(name: string): YAMLMap | undefined {
    return this.envSeq()?.items.find((i): i is YAMLMap => isMap(i) && i.get('name') === name);
  }

  env(name: string): string | undefined {
    const v = this.envEntry(name)?.get('value');
    return v === undefined ? undefined : String(isScalar(v) ? v.value : v);
  }

  /** Sets an env var the template must already define (upstream's knob; drift if it is gone). */
  setEnv(name: string, value: string): void {
    const entry = this.envEntry(name);
    if (!entry) this.owner.fail(`${this.label.slice(this.label.indexOf('container'))} has no env ${name}`);
    entry.delete('valueFrom');
    entry.set('value', this.owner.node(value));
  }

  /** Adds an env var, or sets it when present (for settings upstream leaves at their defaults). */
  putEnv(name: string, value: string | { valueFrom: unknown }): void {
    const entry = this.envEntry(name);
    const body = typeof value === 'string' ? { name, value } : { name, ...value };
    if (entry) {
      entry.delete('value');
      entry.delete('valueFrom');
      for (const [k, v] of Object.entries(body)) if (k !== 'name') entry.set(k, this.owner.node(v));
      return;
    }
    const seq = this.envSeq();
    if (seq) seq.add(this.owner.node(body));
    else this.map.set('env', this.owner.node([body]));
  }

  /** Appends to a list of this container the template must already have (volumeMounts, ports, …). */
  append(key: string, item: unknown): void {
    const seq = this.map.get(key);
    if (!isSeq(seq)) this.owner.fail(`${this.label} has no ${key}`);
    seq.add(this.owner.node(item));
  }

  /** Replaces a probe's exec command (e.g. calico-node's readiness without BIRD). */
  setProbeCommand(probe: 'livenessProbe' | 'readinessProbe', command: string[]): void {
    if (!this.map.hasIn([probe, 'exec', 'command'])) this.owner.fail(`${this.label} has no ${probe} exec command`);
    this.map.setIn([probe, 'exec', 'command'], this.owner.node(command));
  }
}
