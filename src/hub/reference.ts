// Model references: `hf:owner/repo[@revision][/path/in/repo]` for the Hugging Face hub
// (or a mirror via HF_ENDPOINT); anything else is a local path. Every part is checked here,
// because each becomes a URL segment and a folder in the cache.
import { InfuseError } from "../core/errors.js";

export interface HubReference {
  /** `owner/repo` */
  repo: string;
  revision: string;
  /** A file inside the repo; undefined means the model files of the whole repo. */
  file: string | undefined;
}

const HUB_PREFIX = "hf:";
/** The hub's repo id rule: word characters, `-` and `.`, starting and ending with a word character. */
const NAME = /^\w(?:[\w.-]*\w)?$/;
const MAX_REPO_ID = 96;
/** A branch, tag or commit: one segment of git-ref-safe characters (no `/`, `%`, `~`, `^`, `:`, …). */
const REVISION = /^\w[\w.-]*$/;
const MAX_REVISION = 255;
/** What file systems allow: 255 bytes a name (less ".part"), and a path well inside Linux's 4096. */
const MAX_SEGMENT = 250;
const MAX_PATH = 1024;
/** The hub's namespaced refs, the only revisions with slashes: pull requests and conversions. */
const NAMESPACED_REF = /^refs\/(pr\/\d+|convert\/\w[\w.-]*)$/;

export function isHubReference(ref: string): boolean {
  return ref.startsWith(HUB_PREFIX);
}

export function parseHubReference(ref: string): HubReference {
  const body = ref.slice(HUB_PREFIX.length);
  const [owner, repoAndRev, ...rest] = body.split("/");
  const bad = (part: string, why: string) =>
    new InfuseError("hub.bad_reference", `"${ref}" is not a hub reference: ${part} ${why}`, {
      kind: "usage",
      hint:
        "write hf:owner/repo, hf:owner/repo/file.gguf or hf:owner/repo@revision/file; names use letters, digits, " +
        "'-', '_' and '.'; a revision is a branch, tag or commit (or refs/pr/N, refs/convert/NAME)",
      details: { part },
    });
  if (!owner || !repoAndRev) throw bad("the reference", "needs an owner and a repository name");
  const at = repoAndRev.indexOf("@");
  const name = at < 0 ? repoAndRev : repoAndRev.slice(0, at);
  let revision = at < 0 ? "main" : repoAndRev.slice(at + 1);
  for (const [part, value] of [
    ["the owner", owner],
    ["the repository name", name],
  ] as const) {
    const why = repoNameProblem(value);
    if (why) throw bad(part, `"${value}" ${why}`);
  }
  if (owner.length + 1 + name.length > MAX_REPO_ID) throw bad("the repository id", `is longer than ${MAX_REPO_ID}`);
  if (revision === "refs" && (rest[0] === "pr" || rest[0] === "convert") && rest[1] !== undefined) {
    revision = `refs/${rest[0]}/${rest[1]}`;
    rest.splice(0, 2);
  }
  const revWhy = revisionProblem(revision);
  if (revWhy) throw bad("the revision", `"${revision}" ${revWhy}`);
  const file = rest.length === 0 ? undefined : rest.join("/");
  if (file !== undefined) {
    const why = repoPathProblem(file);
    if (why) throw bad("the file path", `"${file}" ${why}`);
  }
  return { repo: `${owner}/${name}`, revision, file };
}

export function formatHubReference(r: HubReference): string {
  return `hf:${r.repo}${r.revision === "main" ? "" : `@${r.revision}`}${r.file ? `/${r.file}` : ""}`;
}

function repoNameProblem(name: string): string | undefined {
  if (!NAME.test(name)) return "may hold only letters, digits, '-', '_' and '.', and must start and end with one";
  if (name.includes("--") || name.includes("..")) return "may not contain '--' or '..'";
  return undefined;
}

/** Why a revision is not one infuse accepts, or undefined when it is fine. */
export function revisionProblem(revision: string): string | undefined {
  if (revision === "") return "is empty";
  if (revision.length > MAX_REVISION) return `is longer than ${MAX_REVISION} characters`;
  if (NAMESPACED_REF.test(revision)) return revision.includes("..") ? "may not contain '..'" : undefined;
  if (!REVISION.test(revision)) {
    return "may hold only letters, digits, '-', '_' and '.' (with slashes only as refs/pr/N or refs/convert/NAME)";
  }
  if (revision.includes("..")) return "may not contain '..'";
  if (revision.endsWith(".") || revision.endsWith(".lock")) return "may not end with '.' or '.lock'";
  return undefined;
}

/**
 * Why a file path in a repository (from a reference or a hub listing) is unsafe to use as a
 * path under the cache, or undefined when it is a plain relative POSIX path.
 */
export function repoPathProblem(file: string): string | undefined {
  if (file === "") return "is empty";
  if (/[\u0000-\u001f\u007f]/.test(file)) return "contains a control character (NUL, newline, escape)";
  if (file.includes("\\")) return "contains a backslash";
  if (file.startsWith("/")) return "is absolute";
  if (/^[A-Za-z]:/.test(file)) return "starts with a drive letter";
  if (file.length > MAX_PATH) return `is longer than ${MAX_PATH} characters`;
  for (const segment of file.split("/")) {
    if (segment === "") return "has an empty segment ('//' or a trailing '/')";
    if (Buffer.byteLength(segment) > MAX_SEGMENT) return `has a name longer than ${MAX_SEGMENT} bytes`;
    if (segment === "." || segment === "..") return `has a '${segment}' segment`;
  }
  return undefined;
}
