// The public API exports each name once. src/index.ts is read through the TypeScript compiler: every
// `export *`, `export type *`, `export * as ns` and named export contributes its names, and a name two
// of them give for different declarations is a collision (TypeScript silently lets a named export
// shadow an `export *` one, so the library would show one of two types under one name).
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

function program(): ts.Program {
  const file = ts.findConfigFile(root, ts.sys.fileExists, "tsconfig.json")!;
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(file, ts.sys.readFile).config, ts.sys, root);
  return ts.createProgram([path.join(root, "src/index.ts")], { ...config.options, noEmit: true });
}

interface Entry {
  /** The export statement's module, e.g. "./rag/types.js". */
  from: string;
  symbol: ts.Symbol;
}

/** Every name src/index.ts exports, with each export statement that gives it and what it resolves to. */
function exportsByName(p: ts.Program): Map<string, Entry[]> {
  const checker = p.getTypeChecker();
  const index = p.getSourceFile(path.join(root, "src/index.ts"))!;
  const target = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const names = new Map<string, Entry[]>();
  const add = (name: string, from: string, symbol: ts.Symbol): void => {
    names.set(name, [...(names.get(name) ?? []), { from, symbol: target(symbol) }]);
  };
  for (const statement of index.statements) {
    if (!ts.isExportDeclaration(statement) || !statement.moduleSpecifier) continue;
    const from = (statement.moduleSpecifier as ts.StringLiteral).text;
    const clause = statement.exportClause;
    if (!clause) {
      const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
      if (!module) throw new Error(`src/index.ts: cannot resolve ${from}`);
      for (const s of checker.getExportsOfModule(module)) add(s.name, from, s);
    } else if (ts.isNamespaceExport(clause)) {
      add(clause.name.text, from, checker.getSymbolAtLocation(clause.name)!);
    } else {
      for (const element of clause.elements) add(element.name.text, from, checker.getSymbolAtLocation(element.name)!);
    }
  }
  return names;
}

describe("the public API (src/index.ts)", () => {
  const names = exportsByName(program());

  it("gives every exported name one declaration", () => {
    const collisions = [...names]
      .filter(([, entries]) => new Set(entries.map((e) => e.symbol)).size > 1)
      .map(([name, entries]) => `${name}: ${entries.map((e) => e.from).join(", ")}`);
    expect(collisions).toEqual([]);
  });

  it("is read completely (the check above sees the names it is meant to guard)", () => {
    for (const name of ["ChatMessage", "ChatModel", "Retriever", "generate", "InfuseError", "tokenizers"]) {
      expect(names.has(name), name).toBe(true);
    }
  });
});
