/**
 * The walls between the parts of the codebase (docs/architecture.md), checked on every source
 * file under edge/, mta-node/, shared/, dev/, bench/ and scripts/. Module specifiers are read
 * with the TypeScript parser: import and export-from declarations (type-only ones flagged as
 * such), `import x = require()`, `import()` (also in types) and `require()`.
 *
 *   shared/   runs in workerd and on Node: no edge/, mta-node/, node: or Node-only package. The
 *             one way to reach a Node builtin is feature detection at run time,
 *             `process.getBuiltinModule?.('node:…')` (shared/ids.ts); any other 'node:' string
 *             in shared/ is a violation.
 *   edge/ ↔ mta-node/   neither imports the other, except the embedded Node entry edge/node.ts,
 *             which starts an MTA node in-process.
 *   edge/     only edge/node.ts and edge/adapters/** load node: modules or Node-only packages;
 *             everything else is in the Worker bundle. Type-only imports are erased, so allowed.
 *             `cloudflare:` modules only in edge/worker.ts and edge/durable/**.
 *   edge/routes/**, edge/middleware/**   reach storage, Durable Objects and the hub only through
 *             the ports: no edge/store/**, edge/durable/**, edge/hub/**, drizzle-orm, @libsql/*,
 *             type-only imports included (the ports speak edge/domain's records).
 *   edge/, mta-node/, shared/   never import the tooling: dev/, bench/, scripts/, test/.
 *
 * KNOWN lists violations whose fix is under way elsewhere; they still fail the test (so it goes
 * green when they land), and are only labelled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCANNED = ['edge', 'mta-node', 'shared', 'dev', 'bench', 'scripts'];
// .tsx: the dashboard's pages (edge/ui/) are in the Worker bundle like any other edge file.
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

/** Packages that only run on Node (or pull Node builtins in): never in the Worker bundle or shared/. */
const NODE_ONLY = [
  'ws',
  'pino',
  'prom-client',
  '@hono/node-server',
  '@libsql/client', // the bare entry; the Worker uses @libsql/client/web
  '@libsql/client/node',
  'drizzle-orm/libsql/node',
  'drizzle-orm/libsql/migrator',
  'mailauth',
  'mailparser',
  'nodemailer',
  'smtp-server',
  'miniflare',
  'wrangler',
  'tsx',
  'typescript',
];

/** Violations being fixed by others (file → imported module: who). Still failures. */
const KNOWN: Record<string, string> = {
  // e.g. 'edge/routes/x.ts → edge/store/y.ts': 'store: y moves to edge/domain',
};

export interface ModuleRef {
  specifier: string;
  typeOnly: boolean;
  line: number;
  how: 'import' | 'export' | 'import-equals' | 'dynamic-import' | 'require' | 'import-type' | 'node-string';
}

/** Every module a source text names, and (for the shared/ rule) every other 'node:…' string in it. */
export function moduleRefs(text: string, fileName: string): ModuleRef[] {
  const kind = /\.(js|mjs|cjs)$/.test(fileName) ? ts.ScriptKind.JS : fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const out: ModuleRef[] = [];
  const seen = new Set<ts.Node>();
  const add = (lit: ts.Expression | undefined, how: ModuleRef['how'], typeOnly: boolean) => {
    if (!lit || !ts.isStringLiteralLike(lit)) return;
    seen.add(lit);
    out.push({ specifier: lit.text, typeOnly, how, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1 });
  };
  const allowedNodeStrings = new Set<ts.Node>();
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly = Boolean(
        clause &&
          (clause.isTypeOnly ||
            (!clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly))),
      );
      add(node.moduleSpecifier, 'import', typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const typeOnly = node.isTypeOnly || Boolean(node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, 'export', typeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, 'import-equals', node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, 'import-type', true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], 'dynamic-import', false);
      else if (ts.isIdentifier(callee) && callee.text === 'require') add(node.arguments[0], 'require', false);
      else {
        // process.getBuiltinModule?.('node:…'): feature detection, the one allowed way to a builtin in shared/.
        const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
        if (name === 'getBuiltinModule' && node.arguments[0]) allowedNodeStrings.add(node.arguments[0]);
      }
    } else if (ts.isStringLiteralLike(node) && node.text.startsWith('node:') && !seen.has(node) && !allowedNodeStrings.has(node)) {
      out.push({ specifier: node.text, typeOnly: false, how: 'node-string', line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  // A call's argument is visited after the call, so a 'node:' string the module refs took is dropped here too.
  return out.filter((r) => r.how !== 'node-string' || !out.some((o) => o !== r && o.line === r.line && o.specifier === r.specifier));
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(relative(ROOT, path).split(sep).join('/'));
  }
  return out;
}

/** A relative specifier as a repo path (posix), or the package / builtin name as written. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return posix.normalize(posix.join(posix.dirname(file), specifier));
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
const isNodeBuiltin = (spec: string) => spec.startsWith('node:');
const isNodeOnly = (spec: string) => isNodeBuiltin(spec) || NODE_ONLY.some((p) => spec === p || spec.startsWith(`${p}/`) && !spec.startsWith('@libsql/client/web'));
const isStorage = (spec: string) => spec === 'drizzle-orm' || spec.startsWith('drizzle-orm/') || spec.startsWith('@libsql/');

interface Violation {
  wall: string;
  file: string;
  line: number;
  module: string;
  how: string;
}

function scan(): { files: number; violations: Violation[] } {
  const files = SCANNED.flatMap((d) => walk(join(ROOT, d), []));
  const violations: Violation[] = [];
  for (const file of files) {
    if (file.endsWith('.test.ts')) continue; // tests are not shipped; test/ has its own freedom
    const refs = moduleRefs(readFileSync(join(ROOT, file), 'utf8'), file);
    for (const ref of refs) {
      const mod = target(file, ref.specifier);
      const hit = (wall: string) => violations.push({ wall, file, line: ref.line, module: mod, how: ref.typeOnly ? `${ref.how} (type-only)` : ref.how });
      const runtime = under(file, 'edge') || under(file, 'mta-node') || under(file, 'shared');
      if (ref.how === 'node-string') {
        if (under(file, 'shared')) hit('shared: node: only through process.getBuiltinModule');
        continue;
      }
      if (runtime && ['dev', 'bench', 'scripts', 'test'].some((d) => under(mod, d))) hit('runtime code does not import tooling');
      if (under(file, 'shared')) {
        if (under(mod, 'edge') || under(mod, 'mta-node')) hit('shared imports neither edge nor mta-node');
        if (isNodeOnly(mod)) hit('shared runs in workerd: no node: or Node-only package');
      }
      if (under(file, 'edge') && file !== 'edge/node.ts' && under(mod, 'mta-node')) hit('edge does not import mta-node (but edge/node.ts)');
      if (under(file, 'mta-node') && under(mod, 'edge')) hit('mta-node does not import edge');
      if (under(file, 'edge') && file !== 'edge/node.ts' && !under(file, 'edge/adapters') && !ref.typeOnly && isNodeOnly(mod)) {
        hit('edge: node: and Node-only packages only in edge/node.ts and edge/adapters');
      }
      if (under(file, 'edge') && mod.startsWith('cloudflare:') && file !== 'edge/worker.ts' && !under(file, 'edge/durable')) hit('edge: cloudflare: only in edge/worker.ts and edge/durable');
      if (under(file, 'mta-node') && mod.startsWith('cloudflare:')) hit('mta-node runs on Node: no cloudflare:');
      if (under(file, 'edge/routes') || under(file, 'edge/middleware')) {
        if (under(mod, 'edge/store') || under(mod, 'edge/durable') || under(mod, 'edge/hub') || isStorage(mod)) hit('routes and middleware reach store, objects and hub only through ports');
      }
    }
  }
  return { files: files.length, violations };
}

const key = (v: Violation) => `${v.file} → ${v.module.replace(/\.ts$/, '')}.ts`.replace(/\.ts\.ts$/, '.ts');

test('the module scanner sees every way of naming a module', () => {
  const src = [
    "import a from 'node:fs';",
    "import type { B } from '../edge/ports.ts';",
    "import { type C, type D } from 'ws';",
    "import { type E, F } from 'pino';",
    "export { G } from './g.ts';",
    "export type { H } from './h.ts';",
    "import I = require('node:os');",
    "type J = import('drizzle-orm').SQL;",
    "const k = await import('node:net');",
    "const l = require('node:dns');",
    "const m = (globalThis as any).process?.getBuiltinModule?.('node:crypto');",
    "const n = 'node:zlib';",
  ].join('\n');
  const refs = moduleRefs(src, 'x.ts').map((r) => `${r.how}${r.typeOnly ? ':type' : ''} ${r.specifier}`);
  assert.deepEqual(refs, [
    'import node:fs',
    'import:type ../edge/ports.ts',
    'import:type ws',
    'import pino',
    'export ./g.ts',
    'export:type ./h.ts',
    'import-equals node:os',
    'import-type:type drizzle-orm',
    'dynamic-import node:net',
    'require node:dns',
    'node-string node:zlib',
  ]);
});

test('walls between shared, edge, mta-node and the tooling hold', (t) => {
  const { files, violations } = scan();
  assert.ok(files > 50, `scanned only ${files} files`);
  const lines = violations.map((v) => {
    const known = KNOWN[key(v)];
    return `${v.file}:${v.line} → ${v.module} [${v.how}] — ${v.wall}${known ? `  (KNOWN, ${known})` : ''}`;
  });
  const stale = Object.keys(KNOWN).filter((k) => !violations.some((v) => key(v) === k));
  for (const k of stale) t.diagnostic(`fixed, can leave KNOWN: ${k}`);
  assert.equal(violations.length, 0, `${violations.length} wall violation(s) in ${files} files:\n  ${lines.join('\n  ')}`);
});
