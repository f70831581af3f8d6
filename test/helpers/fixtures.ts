// Finds the shared, read-only fixtures (real models and data sets) beside the project.
// Tests read them in place; they are never copied into the project.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const FIXTURES_DIR = path.resolve(process.env["INFUSE_FIXTURES"] ?? path.join(repoRoot, "../shared/fixtures"));

/** Absolute path of a fixture file; throws a clear error if the fixtures are not there. */
export function fixture(relative: string): string {
  const p = path.join(FIXTURES_DIR, relative);
  if (!existsSync(p)) throw new Error(`fixture ${relative} not found under ${FIXTURES_DIR} (set INFUSE_FIXTURES)`);
  return p;
}

export const REPO_ROOT = repoRoot;
