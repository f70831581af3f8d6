// The few hub endpoints infuse uses: file metadata (HEAD on /{repo}/resolve/{rev}/{file}),
// the file list of a revision (/api/models/{repo}/revision/{rev}) and the file URL itself.
// The token goes only to the endpoint's origin; listings are read under a byte cap.
import { InfuseError } from "../core/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../core/limits.js";
import { checksumFromEtag, httpError, type ExpectedFile } from "./download.js";
import { isRedirect, redirectLoop, send, type Exchange, type HubHttp } from "./http.js";
import { repoPathProblem } from "./reference.js";

export interface HubFileInfo extends ExpectedFile {
  /** The URL to GET (after the hub's redirect to its storage, if any). */
  url: string;
  /** The commit the revision resolved to, when the hub says. */
  commit: string | undefined;
}

export class HubClient implements HubHttp {
  readonly timeoutMs: number;
  private readonly origin: string;
  private readonly maxListingBytes: number;

  /** `endpoint` must be an http: or https: URL (from HF_ENDPOINT or `hub.endpoint`). */
  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
    limits: Limits = DEFAULT_LIMITS,
  ) {
    this.origin = endpointOrigin(endpoint);
    this.timeoutMs = limits.downloadTimeoutMs;
    this.maxListingBytes = limits.maxListingBytes;
  }

  /** The token for the hub's own origin only: never for its storage or any host a redirect names. */
  headersFor(url: string): Record<string, string> {
    return this.token && new URL(url).origin === this.origin ? { authorization: `Bearer ${this.token}` } : {};
  }

  fileUrl(repo: string, revision: string, file: string): string {
    const encoded = file.split("/").map(encodeURIComponent).join("/");
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encoded}`;
  }

  /** HEAD without following redirects, so LFS headers (X-Linked-Etag/Size) are seen. */
  async fileInfo(repo: string, revision: string, file: string, signal?: AbortSignal): Promise<HubFileInfo> {
    let url = this.fileUrl(repo, revision, file);
    for (let hops = 0; hops < 5; hops++) {
      const r = await this.exchange(url, { method: "HEAD", redirects: 0 }, signal, (x) => Promise.resolve(x.response));
      if (isRedirect(r.status) && r.headers.get("location")) {
        const linkedEtag = checksumFromEtag(r.headers.get("x-linked-etag"));
        const linkedSize = sizeHeader(r, "x-linked-size", url);
        const next = new URL(r.headers.get("location")!, url).href;
        if (linkedEtag || linkedSize !== undefined) {
          return {
            url: next,
            size: linkedSize,
            checksum: linkedEtag,
            commit: r.headers.get("x-repo-commit") ?? undefined,
          };
        }
        url = next;
        continue;
      }
      if (!r.ok) throw httpError(r, url);
      return {
        url,
        size: sizeHeader(r, "content-length", url),
        checksum: checksumFromEtag(r.headers.get("x-linked-etag") ?? r.headers.get("etag")),
        commit: r.headers.get("x-repo-commit") ?? undefined,
      };
    }
    throw redirectLoop(this.fileUrl(repo, revision, file));
  }

  /** Files of a revision, as the hub lists them; a name that would leave the cache fails the listing. */
  async listFiles(repo: string, revision: string, signal?: AbortSignal): Promise<string[]> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const text = await this.exchange(url, {}, signal, async (x) => {
      if (!x.response.ok) throw httpError(x.response, url);
      return readCapped(x, this.maxListingBytes);
    });
    let body: { siblings?: { rfilename?: unknown }[] } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (!Array.isArray(body?.siblings)) {
      throw new InfuseError("hub.bad_response", `${url}: the response is not a listing with a "siblings" list`, {
        kind: "network",
        hint: "check that HF_ENDPOINT points at a Hugging Face hub or mirror",
        details: { url },
      });
    }
    const files = body.siblings.map((s) => s?.rfilename).filter((f): f is string => typeof f === "string");
    for (const file of files) {
      const why = repoPathProblem(file);
      if (why) {
        throw new InfuseError("hub.unsafe_path", `${url} lists the file "${file}", which ${why}`, {
          kind: "network",
          hint: "the hub or mirror named a file that would be written outside the model cache; check HF_ENDPOINT",
          details: { url, file },
        });
      }
    }
    return files;
  }

  /** One exchange with the hub, always closed; a failed connection becomes `hub.unreachable`. */
  private async exchange<T>(
    url: string,
    init: Parameters<typeof send>[1],
    signal: AbortSignal | undefined,
    use: (x: Exchange) => Promise<T>,
  ): Promise<T> {
    let x: Exchange;
    try {
      x = await send(url, init, this, signal);
    } catch (e) {
      if (signal?.aborted || e instanceof InfuseError) throw e;
      throw new InfuseError("hub.unreachable", `cannot reach ${this.endpoint}: ${(e as Error).message}`, {
        kind: "network",
        hint: "check the network or HF_ENDPOINT; cached models still work (set INFUSE_OFFLINE=1 to skip the network)",
        cause: e,
        details: { url },
      });
    }
    try {
      return await use(x);
    } finally {
      await x.close();
    }
  }
}

/** The endpoint's origin; anything but an http(s) URL is a usage error. */
function endpointOrigin(endpoint: string): string {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  const why = !url
    ? "is not a URL"
    : url.protocol !== "http:" && url.protocol !== "https:"
      ? `uses ${url.protocol}; only http: and https: are allowed`
      : url.username || url.password
        ? "carries a user name or password (set HF_TOKEN instead)"
        : url.search || url.hash
          ? "has a query or fragment"
          : undefined;
  if (why) {
    throw new InfuseError("hub.bad_endpoint", `the hub endpoint "${endpoint}" ${why}`, {
      kind: "usage",
      hint: "set HF_ENDPOINT (or hub.endpoint in infuse.config.json) to an http(s) URL such as https://huggingface.co",
      details: { endpoint, keys: ["HF_ENDPOINT", "hub.endpoint"] },
    });
  }
  return url!.origin;
}

/** A size header as a number; one that is present but not a plain count is a bad response. */
function sizeHeader(r: Response, name: string, url: string): number | undefined {
  const v = r.headers.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,16}$/.test(v.trim())) {
    throw new InfuseError("hub.bad_response", `${url}: the ${name} header "${v}" is not a size`, {
      kind: "network",
      hint: "check that HF_ENDPOINT points at a Hugging Face hub or mirror",
      details: { url, header: name },
    });
  }
  return Number(v.trim());
}

/** The body as text, failing once it passes `max` bytes (`limits.maxListingBytes`). */
async function readCapped(x: Exchange, max: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let chunk = await x.read(); chunk; chunk = await x.read()) {
    total += chunk.byteLength;
    if (total > max) {
      throw new InfuseError("hub.listing_too_large", `${x.url}: the file listing is larger than ${max} bytes`, {
        kind: "network",
        hint: "check HF_ENDPOINT; for a repository with a truly huge listing raise limits.maxListingBytes in infuse.config.json",
        details: { url: x.url, limit: "limits.maxListingBytes", value: max },
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
