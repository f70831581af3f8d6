// Writes docs/guide/troubleshooting.md's table of error codes from the source: every
// `new InfuseError("code", message, { kind, hint })` and every `code: "..."` entry of an error
// table, with its kind (and so the exit code) and the fix its hint names. `--check` fails when
// the page is out of date, so a new error code cannot ship without its line in the guide.
//   npx tsx scripts/error-codes.ts [--check]
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { exitCodeFor, type ErrorKind } from "../src/core/errors.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const PAGE = path.join(ROOT, "docs/guide/troubleshooting.md");
const BEGIN = "<!-- error-codes:begin (made by scripts/error-codes.ts; do not edit by hand) -->";
const END = "<!-- error-codes:end -->";

interface Entry {
  code: string;
  kinds: Set<string>;
  messages: Set<string>;
  hints: Set<string>;
  files: Set<string>;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(path.join(dir, d.name)) : d.name.endsWith(".ts") ? [path.join(dir, d.name)] : [],
  );
}

/** A string or template literal as text, `${expr}` shown as `<expr>` (the last name in it). */
function literalText(node: ts.Node | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) {
    let text = node.head.text;
    for (const span of node.templateSpans) {
      const names = span.expression.getText().match(/[A-Za-z_]\w*/g) ?? ["value"];
      text += `<${names[names.length - 1]}>` + span.literal.text;
    }
    return text;
  }
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    const left = literalText(node.left);
    const right = literalText(node.right);
    return left !== undefined && right !== undefined ? left + right : (left ?? right);
  }
  if (ts.isParenthesizedExpression(node)) return literalText(node.expression);
  return undefined;
}

function property(obj: ts.ObjectLiteralExpression, name: string): ts.Expression | undefined {
  for (const p of obj.properties) {
    if (ts.isPropertyAssignment(p) && p.name.getText() === name) return p.initializer;
  }
  return undefined;
}

function collect(): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const add = (code: string, file: string, kind?: string, message?: string, hint?: string): void => {
    let e = entries.get(code);
    if (e === undefined) {
      e = { code, kinds: new Set(), messages: new Set(), hints: new Set(), files: new Set() };
      entries.set(code, e);
    }
    if (kind !== undefined) e.kinds.add(kind);
    if (message !== undefined) e.messages.add(message);
    if (hint !== undefined) e.hints.add(hint);
    e.files.add(file);
  };
  for (const file of sourceFiles(path.join(ROOT, "src"))) {
    const rel = path.relative(ROOT, file);
    const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isNewExpression(node) && node.expression.getText() === "InfuseError" && node.arguments) {
        const [codeArg, messageArg, optionsArg] = node.arguments;
        const code = literalText(codeArg);
        if (code !== undefined && /^[a-z<]/.test(code)) {
          const options = optionsArg !== undefined && ts.isObjectLiteralExpression(optionsArg) ? optionsArg : undefined;
          const kind = options ? literalText(property(options, "kind")) : undefined;
          add(
            code,
            rel,
            kind ?? "internal",
            literalText(messageArg),
            options ? literalText(property(options, "hint")) : undefined,
          );
        }
      }
      // error tables: { code: "io.disk_full", kind?: "io", why/message: ..., fix/hint: ... }
      if (ts.isObjectLiteralExpression(node)) {
        const code = literalText(property(node, "code"));
        if (code !== undefined && /^[a-z][a-z0-9_]*\.[a-z0-9_.<>]+$/.test(code)) {
          const kind = literalText(property(node, "kind"));
          const message = literalText(property(node, "why") ?? property(node, "message") ?? property(node, "noun"));
          add(code, rel, kind, message, literalText(property(node, "fix") ?? property(node, "hint")));
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return entries;
}

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();

function table(entries: Map<string, Entry>): string {
  const byArea = new Map<string, Entry[]>();
  for (const e of [...entries.values()].sort((a, b) => a.code.localeCompare(b.code))) {
    const area = e.code.includes(".") ? e.code.slice(0, e.code.indexOf(".")) : e.code;
    byArea.set(area, [...(byArea.get(area) ?? []), e]);
  }
  const out: string[] = [BEGIN, ""];
  for (const [area, list] of byArea) {
    out.push(`### ${area}`, "", "| code | exit | what happened | the fix |", "| --- | --- | --- | --- |");
    for (const e of list) {
      const kinds = [...e.kinds];
      const exits = [...new Set(kinds.map((k) => (k in KIND_NAMES ? exitCodeFor(k as ErrorKind) : "?")))].join("/");
      const message = [...e.messages].slice(0, 2).map(cell).join("; ") || "—";
      const hint = [...e.hints].slice(0, 2).map(cell).join("; ") || "see the message";
      out.push(`| \`${e.code}\` | ${exits || "—"} | ${message} | ${hint} |`);
    }
    out.push("");
  }
  out.push(END);
  return out.join("\n");
}

const KIND_NAMES: Record<ErrorKind, true> = {
  usage: true,
  input: true,
  not_found: true,
  network: true,
  io: true,
  cancelled: true,
  internal: true,
};

const page = readFileSync(PAGE, "utf8");
const start = page.indexOf(BEGIN);
const stop = page.indexOf(END);
if (start < 0 || stop < 0) throw new Error(`${PAGE}: the markers ${BEGIN} … ${END} are missing`);
const next = page.slice(0, start) + table(collect()) + page.slice(stop + END.length);
if (process.argv.includes("--check")) {
  if (next !== page) {
    console.error("docs/guide/troubleshooting.md is out of date: run `npx tsx scripts/error-codes.ts`");
    process.exit(1);
  }
  console.log(`docs/guide/troubleshooting.md lists all ${collect().size} error codes`);
} else {
  writeFileSync(PAGE, next);
  console.log(`wrote ${path.relative(ROOT, PAGE)}`);
}
