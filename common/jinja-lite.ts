/*
 * The small part of Jinja that real upstream Tenks files put in host-specific values. Kayobe's dev
 * configuration, for example, sets
 *
 *   libvirt_vm_emulator: "{% if ansible_facts.os_family == 'RedHat' %}/usr/libexec/qemu-kvm{% else %}/usr/bin/qemu-system-x86_64{% endif %}"
 *
 * which Ansible renders on each hypervisor with that host's facts. tenks does the same: the
 * coordinator checks that a value is a template it can render ({@link parseTemplate}) and the agent
 * renders it with its own host's facts ({@link renderTemplate}).
 *
 * Understood: text; `{{ EXPR }}`; `{% if EXPR %}`, `{% elif EXPR %}`, `{% else %}`, `{% endif %}`
 * (nestable); whitespace control (`{%-`, `-%}`). EXPR is `A`, `A == B`, `A != B`, `A in B`,
 * `A not in B`, `not EXPR`, `EXPR and EXPR`, `EXPR or EXPR`, where an operand is a quoted string,
 * a number, a list of those (`['a', 'b']`), `ansible_facts.NAME`, `ansible_facts['NAME']` or
 * `ansible_NAME`, optionally followed by `| lower`, `| upper` or `| int`. Anything else is refused
 * with a message saying what was not understood, never rendered wrongly.
 */

/** Host facts a template may read, by their Ansible names (os_family, distribution, architecture, ...). */
export type TemplateFacts = Readonly<Record<string, string>>;

type Value = string | number | boolean | Value[];

type Expr =
  | { kind: 'literal'; value: Value }
  | { kind: 'fact'; name: string; filters: string[] }
  | { kind: 'not'; expr: Expr }
  | { kind: 'binary'; op: '==' | '!=' | 'in' | 'not in' | 'and' | 'or'; left: Expr; right: Expr };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'output'; expr: Expr }
  | { kind: 'if'; branches: { test: Expr; body: Node[] }[]; otherwise: Node[] };

/** A template that parsed. */
export interface Template {
  nodes: Node[];
  /** Whether it has any Jinja in it at all. */
  templated: boolean;
}

/** A template that is not understood; `message` says what. */
export class TemplateError extends Error {}

const FILTERS = new Set(['lower', 'upper', 'int', 'string', 'trim']);

// ------------------------------------------------------------------ expressions

type Token = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'word'; v: string } | { t: 'op'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new TemplateError(`unterminated string in '${src.trim()}'`);
      out.push({ t: 'str', v: src.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '==' || two === '!=') {
      out.push({ t: 'op', v: two });
      i += 2;
      continue;
    }
    if ('[](),.|'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    const num = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ t: 'num', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (word) {
      out.push({ t: 'word', v: word[0] });
      i += word[0].length;
      continue;
    }
    throw new TemplateError(`'${c}' is not understood in '${src.trim()}'`);
  }
  return out;
}

class ExprParser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly src: string,
  ) {}

  parse(): Expr {
    const e = this.or();
    if (this.i < this.toks.length) this.fail('unexpected text after the expression');
    return e;
  }

  private fail(why: string): never {
    throw new TemplateError(`${why} in '${this.src.trim()}'`);
  }

  private peek(): Token | undefined {
    return this.toks[this.i];
  }

  private isWord(v: string, at = this.i): boolean {
    const t = this.toks[at];
    return t?.t === 'word' && t.v === v;
  }

  private isOp(v: string): boolean {
    const t = this.peek();
    return t?.t === 'op' && t.v === v;
  }

  /** `next` joined by the word operator `op`, left to right (`a or b or c`). */
  private chain(op: 'or' | 'and', next: () => Expr): Expr {
    let left = next();
    while (this.isWord(op)) {
      this.i++;
      left = { kind: 'binary', op, left, right: next() };
    }
    return left;
  }

  private or(): Expr {
    return this.chain('or', () => this.and());
  }

  private and(): Expr {
    return this.chain('and', () => this.not());
  }

  private not(): Expr {
    if (this.isWord('not')) {
      this.i++;
      return { kind: 'not', expr: this.not() };
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const left = this.operand();
    if (this.isOp('==') || this.isOp('!=')) {
      const op = (this.toks[this.i++] as { v: '==' | '!=' }).v;
      return { kind: 'binary', op, left, right: this.operand() };
    }
    if (this.isWord('in')) {
      this.i++;
      return { kind: 'binary', op: 'in', left, right: this.operand() };
    }
    if (this.isWord('not') && this.isWord('in', this.i + 1)) {
      this.i += 2;
      return { kind: 'binary', op: 'not in', left, right: this.operand() };
    }
    return left;
  }

  private operand(): Expr {
    const base = this.primary();
    if (!this.isOp('|')) return base;
    if (base.kind !== 'fact') this.fail('filters apply only to facts');
    const filters: string[] = [];
    while (this.isOp('|')) {
      this.i++;
      const f = this.peek();
      if (f?.t !== 'word' || !FILTERS.has(f.v))
        this.fail(`filter '${f ? String(f.v) : ''}' is not one of ${[...FILTERS].join(', ')}`);
      filters.push(f.v);
      this.i++;
    }
    return { ...base, filters };
  }

  private primary(): Expr {
    const t = this.peek();
    if (!t) this.fail('an expression ends early');
    if (t.t === 'str' || t.t === 'num') {
      this.i++;
      return { kind: 'literal', value: t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      this.i++;
      const e = this.or();
      if (!this.isOp(')')) this.fail("missing ')'");
      this.i++;
      return e;
    }
    if (t.t === 'op' && t.v === '[') {
      this.i++;
      const items: Value[] = [];
      while (!this.isOp(']')) {
        const item = this.peek();
        if (item?.t !== 'str' && item?.t !== 'num') this.fail('lists may hold only strings and numbers');
        items.push(item.v);
        this.i++;
        if (this.isOp(',')) this.i++;
        else if (!this.isOp(']')) this.fail("missing ']'");
      }
      this.i++;
      return { kind: 'literal', value: items };
    }
    if (t.t === 'word' && (t.v === 'true' || t.v === 'True' || t.v === 'false' || t.v === 'False')) {
      this.i++;
      return { kind: 'literal', value: t.v.toLowerCase() === 'true' };
    }
    if (t.t === 'word' && t.v === 'ansible_facts') {
      this.i++;
      if (this.isOp('.')) {
        this.i++;
        const name = this.peek();
        if (name?.t !== 'word') this.fail('a fact name must follow ansible_facts.');
        this.i++;
        return { kind: 'fact', name: name.v, filters: [] };
      }
      if (this.isOp('[')) {
        this.i++;
        const name = this.peek();
        if (name?.t !== 'str') this.fail('ansible_facts[...] takes a quoted fact name');
        this.i++;
        if (!this.isOp(']')) this.fail("missing ']'");
        this.i++;
        return { kind: 'fact', name: name.v, filters: [] };
      }
      this.fail('ansible_facts must be followed by .NAME or [NAME]');
    }
    if (t.t === 'word' && t.v.startsWith('ansible_')) {
      this.i++;
      return { kind: 'fact', name: t.v.slice('ansible_'.length), filters: [] };
    }
    this.fail(`'${t.v}' is not a host fact (ansible_facts.NAME) or a literal`);
  }
}

function parseExpr(src: string): Expr {
  return new ExprParser(tokenize(src), src).parse();
}

// ------------------------------------------------------------------ statements

const TAG = /\{\{-?([\s\S]*?)-?\}\}|\{%(-?)([\s\S]*?)(-?)%\}|\{#[\s\S]*?#\}/g;

/** Parses `text`; throws TemplateError naming what it does not understand. */
export function parseTemplate(text: string): Template {
  // Whitespace control: `{%-` strips whitespace before the tag, `-%}` after it.
  const root: Node[] = [];
  const stack: { node: Extract<Node, { kind: 'if' }>; body: Node[] }[] = [];
  const current = (): Node[] => stack.at(-1)?.body ?? root;
  let last = 0;
  let templated = false;
  let stripNext = false;
  for (const m of text.matchAll(TAG)) {
    templated = true;
    let before = text.slice(last, m.index);
    if (stripNext) before = before.replace(/^\s+/, '');
    if (m[2] === '-' || m[0].startsWith('{{-')) before = before.replace(/\s+$/, '');
    if (before !== '') current().push({ kind: 'text', text: before });
    last = m.index + m[0].length;
    stripNext = m[4] === '-' || m[0].endsWith('-}}');
    if (m[0].startsWith('{#')) continue;
    if (m[1] !== undefined) {
      current().push({ kind: 'output', expr: parseExpr(m[1]) });
      continue;
    }
    const stmt = (m[3] ?? '').trim();
    const [keyword = '', ...rest] = stmt.split(/\s+/);
    const arg = rest.join(' ');
    const top = stack.at(-1);
    if (keyword === 'if') {
      const node: Extract<Node, { kind: 'if' }> = { kind: 'if', branches: [], otherwise: [] };
      current().push(node);
      const body: Node[] = [];
      node.branches.push({ test: parseExpr(arg), body });
      stack.push({ node, body });
    } else if (keyword === 'elif') {
      if (!top || top.body === top.node.otherwise) throw new TemplateError('{% elif %} without {% if %}');
      const body: Node[] = [];
      top.node.branches.push({ test: parseExpr(arg), body });
      top.body = body;
    } else if (keyword === 'else') {
      if (!top || top.body === top.node.otherwise) throw new TemplateError('{% else %} without {% if %}');
      top.body = top.node.otherwise;
    } else if (keyword === 'endif') {
      if (!top) throw new TemplateError('{% endif %} without {% if %}');
      stack.pop();
    } else {
      throw new TemplateError(`{% ${keyword} %} is not understood (only if/elif/else/endif)`);
    }
  }
  if (stack.length > 0) throw new TemplateError('{% if %} without {% endif %}');
  let tail = text.slice(last);
  if (stripNext) tail = tail.replace(/^\s+/, '');
  if (tail !== '') current().push({ kind: 'text', text: tail });
  return { nodes: root, templated };
}

// ------------------------------------------------------------------ rendering

function filtered(value: string, filters: readonly string[]): Value {
  let v: Value = value;
  for (const f of filters) {
    const s: string = typeof v === 'string' ? v : String(v);
    if (f === 'lower') v = s.toLowerCase();
    else if (f === 'upper') v = s.toUpperCase();
    else if (f === 'trim') v = s.trim();
    else if (f === 'int') v = Number.parseInt(s, 10) || 0;
    else v = s;
  }
  return v;
}

function evaluate(e: Expr, facts: TemplateFacts): Value {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'fact': {
      const v = facts[e.name];
      if (v === undefined)
        throw new TemplateError(`host fact '${e.name}' is not known (known: ${Object.keys(facts).join(', ')})`);
      return filtered(v, e.filters);
    }
    case 'not':
      return !truthy(evaluate(e.expr, facts));
    case 'binary': {
      if (e.op === 'and') return truthy(evaluate(e.left, facts)) && truthy(evaluate(e.right, facts));
      if (e.op === 'or') return truthy(evaluate(e.left, facts)) || truthy(evaluate(e.right, facts));
      const l = evaluate(e.left, facts);
      const r = evaluate(e.right, facts);
      if (e.op === '==') return l === r;
      if (e.op === '!=') return l !== r;
      const has = Array.isArray(r) ? r.includes(l) : String(r).includes(String(l));
      return e.op === 'in' ? has : !has;
    }
  }
}

function truthy(v: Value): boolean {
  return Array.isArray(v) ? v.length > 0 : Boolean(v);
}

function renderNodes(nodes: readonly Node[], facts: TemplateFacts): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'output') {
      const v = evaluate(n.expr, facts);
      out += Array.isArray(v) ? JSON.stringify(v) : String(v);
    } else {
      const branch = n.branches.find((b) => truthy(evaluate(b.test, facts)));
      out += renderNodes(branch ? branch.body : n.otherwise, facts);
    }
  }
  return out;
}

/** Renders `text` with `facts`; throws TemplateError when it is not understood or reads an unknown fact. */
export function renderTemplate(text: string, facts: TemplateFacts): string {
  return renderNodes(parseTemplate(text).nodes, facts).trim();
}

/** Whether `text` holds any Jinja tag. */
export function isTemplate(text: string): boolean {
  return /\{\{|\{%|\{#/.test(text);
}
