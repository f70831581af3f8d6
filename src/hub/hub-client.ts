// The few hub endpoints infuse uses: file metadata (HEAD on /{repo}/resolve/{rev}/{file}),
// the file list of a revision (/api/models/{repo}/revision/{rev}) and the file URL itself.
import { InfuseError } from "../core/errors.js";
import { checksumFromEtag, httpError, type ExpectedFile } from "./download.js";

export interface HubFileInfo extends ExpectedFile {
  /** The URL to GET (after the hub's redirect to its storage, if any). */
  url: string;
  /** The commit the revision resolved to, when the hub says. */
  commit: string | undefined;
}

export class HubClient {
  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
  ) {}

  get headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  fileUrl(repo: string, revision: string, file: string): string {
    const encoded = file.split("/").map(encodeURIComponent).join("/");
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encoded}`;
  }

  /** HEAD without following redirects, so LFS headers (X-Linked-Etag/Size) are seen. */
  async fileInfo(repo: string, revision: string, file: string, signal?: AbortSignal): Promise<HubFileInfo> {
    let url = this.fileUrl(repo, revision, file);
    for (let hops = 0; hops < 5; hops++) {
      const r = await this.request(url, { method: "HEAD", redirect: "manual" }, signal);
      if (r.status >= 300 && r.status < 400 && r.headers.get("location")) {
        const linkedEtag = checksumFromEtag(r.headers.get("x-linked-etag"));
        const linkedSize = r.headers.get("x-linked-size");
        const next = new URL(r.headers.get("location")!, url).href;
        if (linkedEtag || linkedSize) {
          return {
            url: next,
            size: linkedSize ? Number(linkedSize) : undefined,
            checksum: linkedEtag,
            commit: r.headers.get("x-repo-commit") ?? undefined,
          };
        }
        url = next;
        continue;
      }
      if (!r.ok) throw httpError(r, url);
      const length = r.headers.get("content-length");
      return {
        url,
        size: length ? Number(length) : undefined,
        checksum: checksumFromEtag(r.headers.get("x-linked-etag") ?? r.headers.get("etag")),
        commit: r.headers.get("x-repo-commit") ?? undefined,
      };
    }
    throw new InfuseError("hub.redirect_loop", `${this.fileUrl(repo, revision, file)}: too many redirects`, {
      kind: "network",
      hint: "check HF_ENDPOINT",
    });
  }

  /** Files of a revision, as the hub lists them. */
  async listFiles(repo: string, revision: string, signal?: AbortSignal): Promise<string[]> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const r = await this.request(url, {}, signal);
    if (!r.ok) throw httpError(r, url);
    const body = (await r.json()) as { siblings?: { rfilename?: unknown }[] };
    if (!Array.isArray(body.siblings)) {
      throw new InfuseError("hub.bad_response", `${url}: the response has no "siblings" list`, {
        kind: "network",
        hint: "check that HF_ENDPOINT points at a Hugging Face hub or mirror",
      });
    }
    return body.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === "string");
  }

  private async request(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(url, { ...init, headers: this.headers, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new InfuseError("hub.unreachable", `cannot reach ${this.endpoint}: ${(e as Error).message}`, {
        kind: "network",
        hint: "check the network or HF_ENDPOINT; cached models still work (set INFUSE_OFFLINE=1 to skip the network)",
        cause: e,
        details: { url },
      });
    }
  }
}
