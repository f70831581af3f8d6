// Model references: `hf:owner/repo[@revision][/path/in/repo]` for the Hugging Face hub
// (or a mirror via HF_ENDPOINT); anything else is a local path.
import { InfuseError } from "../core/errors.js";

export interface HubReference {
  /** `owner/repo` */
  repo: string;
  revision: string;
  /** A file inside the repo; undefined means the model files of the whole repo. */
  file: string | undefined;
}

const HUB_PREFIX = "hf:";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isHubReference(ref: string): boolean {
  return ref.startsWith(HUB_PREFIX);
}

export function parseHubReference(ref: string): HubReference {
  const body = ref.slice(HUB_PREFIX.length);
  const parts = body.split("/");
  const [owner, repoAndRev, ...rest] = parts;
  const bad = (why: string) =>
    new InfuseError("hub.bad_reference", `"${ref}" is not a hub reference: ${why}`, {
      kind: "usage",
      hint: "write hf:owner/repo, hf:owner/repo/file.gguf or hf:owner/repo@revision/file",
    });
  if (!owner || !repoAndRev) throw bad("it needs an owner and a repository name");
  const at = repoAndRev.indexOf("@");
  const name = at < 0 ? repoAndRev : repoAndRev.slice(0, at);
  const revision = at < 0 ? "main" : repoAndRev.slice(at + 1);
  if (!NAME.test(owner) || !NAME.test(name)) throw bad(`"${owner}/${name}" is not a valid repository name`);
  if (!revision || /[\s/]/.test(revision)) throw bad(`"${revision}" is not a valid revision`);
  const file = rest.length === 0 ? undefined : rest.join("/");
  if (file !== undefined && (file === "" || rest.some((p) => p === "" || p === "." || p === ".."))) {
    throw bad(`"${file}" is not a valid file path`);
  }
  return { repo: `${owner}/${name}`, revision, file };
}

export function formatHubReference(r: HubReference): string {
  return `hf:${r.repo}${r.revision === "main" ? "" : `@${r.revision}`}${r.file ? `/${r.file}` : ""}`;
}
