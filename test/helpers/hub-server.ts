// A real HTTP server on 127.0.0.1 that serves files the way the Hugging Face hub does:
// /{repo}/resolve/{rev}/{file} (HEAD and GET with Range; LFS files redirect to /lfs/... with
// X-Linked-Etag/X-Linked-Size) and /api/models/{repo}/revision/{rev}. Tests use it to
// exercise downloads, resumes and failures for real, and, with `hostile`, a hub that misbehaves.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface HubRepoFiles {
  /** file path in the repo → absolute path on disk */
  [file: string]: string;
}

export interface HubServerOptions {
  repos: Record<string, HubRepoFiles>;
  /** Files larger than this are served as LFS (sha256 etag, redirect); smaller as git blobs. */
  lfsThreshold?: number;
  /** If set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Where LFS files redirect to (another server's endpoint, as the hub sends them to its storage); default this one. */
  lfsOrigin?: string;
  hostile?: HostileHubOptions;
}

/** Ways a hub or mirror can misbehave. */
export interface HostileHubOptions {
  /** Extra names every listing carries, e.g. "../../x/config.json". */
  extraSiblings?: string[];
  /** Served for any path no repo holds (even outside /resolve/), so hostile names download. */
  anyFile?: string;
  /** The listing body as it is, instead of the repo's files (e.g. not JSON). */
  listingBody?: string;
  /** Listings are padded with junk entries to at least this many bytes. */
  listingBytes?: number;
  /** Every /resolve request is redirected (302, no X-Linked headers) to the same path on this origin. */
  redirectTo?: string;
  /** GET bodies run this many bytes past what HEAD announced (sent chunked, as fast as the client reads). */
  overlongBy?: number;
  /** GET bodies end cleanly (chunked) after this many bytes, short of what HEAD announced. */
  shortBody?: number;
  /** GET bodies send this many bytes, then nothing more, keeping the connection open. */
  stallAfter?: number;
  /** Accept connections and requests and never answer. */
  silent?: boolean;
}

export interface HubRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  /** Body bytes written so far. */
  sent: number;
}

export interface HubServer {
  endpoint: string;
  /** The next GET of this file sends this many bytes, then destroys the connection. */
  dropAfter(file: string, bytes: number): void;
  /** Serve altered bytes for this file from now on (metadata still describes the real file). */
  corrupt(file: string): void;
  /** Requests seen, e.g. "GET /o/r/resolve/main/f range=bytes=10-". */
  log: string[];
  /** Requests seen, with the Authorization header they carried and the body bytes sent. */
  requests: HubRequest[];
  close(): Promise<void>;
}

export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const threshold = options.lfsThreshold ?? 1024;
  const drops = new Map<string, number>();
  const corrupted = new Set<string>();
  const log: string[] = [];
  const requests: HubRequest[] = [];
  const hostile = options.hostile ?? {};
  const load = (repo: string, file: string) => {
    const p = options.repos[repo]?.[file] ?? hostile.anyFile;
    if (!p) return undefined;
    const data = readFileSync(p);
    const lfs = data.length > threshold;
    const etag = lfs
      ? createHash("sha256").update(data).digest("hex")
      : createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
    return { data, lfs, etag };
  };

  const server = http.createServer((req, res) => {
    const raw = req.url ?? "/";
    const url = decodeURIComponent(raw);
    log.push(`${req.method} ${url}${req.headers.range ? ` range=${req.headers.range}` : ""}`);
    const seen: HubRequest = { method: req.method ?? "", url, authorization: req.headers.authorization, sent: 0 };
    requests.push(seen);
    if (hostile.silent) return;
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401).end("unauthorized");
      return;
    }
    // match on the raw path (a revision such as refs%2Fpr%2F1 is one segment), then decode
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(raw);
    if (api) {
      const files = options.repos[decodeURIComponent(api[1]!)];
      if (!files) return void res.writeHead(404).end("not found");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        hostile.listingBody ??
          listing(decodeURIComponent(api[1]!), [...Object.keys(files), ...(hostile.extraSiblings ?? [])]),
      );
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(raw);
    const lfsPath = /^\/lfs\/([^/]+\/[^/]+)\/(.+)$/.exec(raw);
    const repo = decodeURIComponent(resolve?.[1] ?? lfsPath?.[1] ?? "");
    const file = decodeURIComponent(resolve?.[3] ?? lfsPath?.[2] ?? "");
    if (resolve && hostile.redirectTo) {
      return void res.writeHead(302, { location: `${hostile.redirectTo}${raw}` }).end();
    }
    const entry = repo && file ? load(repo, file) : hostile.anyFile ? load("", "") : undefined;
    if (!entry) return void res.writeHead(404, { "x-error-code": "EntryNotFound" }).end("not found");
    if (resolve && entry.lfs) {
      res.writeHead(302, {
        location: `${options.lfsOrigin ?? ""}/lfs/${repo}/${file}`,
        "x-linked-etag": `"${entry.etag}"`,
        "x-linked-size": String(entry.data.length),
        "x-repo-commit": "0".repeat(40),
      });
      return void res.end();
    }
    let body = entry.data;
    if (corrupted.has(file)) {
      body = Buffer.from(body);
      body[body.length >> 1] = body[body.length >> 1]! ^ 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    if (start > body.length) return void res.writeHead(416).end();
    const headers: http.OutgoingHttpHeaders = {
      "content-length": String(body.length - start),
      "accept-ranges": "bytes",
      etag: `"${entry.etag}"`,
      "x-repo-commit": "0".repeat(40),
    };
    if (range) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    const misbehaves = hostile.overlongBy ?? hostile.shortBody ?? hostile.stallAfter;
    if (req.method !== "HEAD" && misbehaves !== undefined) delete headers["content-length"]; // chunked
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === "HEAD") return void res.end();
    if (hostile.overlongBy !== undefined) {
      return void stream(res, seen, body.subarray(start), hostile.overlongBy);
    }
    if (hostile.shortBody !== undefined) {
      seen.sent = Math.min(hostile.shortBody, body.length - start);
      return void res.end(body.subarray(start, start + hostile.shortBody));
    }
    if (hostile.stallAfter !== undefined) {
      seen.sent = hostile.stallAfter;
      return void res.write(body.subarray(start, start + hostile.stallAfter));
    }
    const drop = drops.get(file);
    if (drop !== undefined) {
      drops.delete(file);
      res.write(body.subarray(start, start + drop), () => {
        setTimeout(() => res.destroy(), 20);
      });
      return;
    }
    seen.sent = body.length - start;
    res.end(body.subarray(start));
  });
  const listing = (id: string, names: string[]) => {
    const text = JSON.stringify({ id, sha: "0".repeat(40), siblings: names.map((rfilename) => ({ rfilename })) });
    const pad = (hostile.listingBytes ?? 0) - text.length;
    if (pad <= 0) return text;
    const junk = Array.from({ length: Math.ceil(pad / 20) }, (_, i) => `{"rfilename":"pad/${i}.txt"}`).join(",");
    return text.replace(/\]\}$/, `,${junk}]}`);
  };
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dropAfter: (file, bytes) => drops.set(file, bytes),
    corrupt: (file) => corrupted.add(file),
    log,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Writes `head`, then `extra` zero bytes, as fast as the client reads; stops when it goes away. */
function stream(res: http.ServerResponse, seen: HubRequest, head: Buffer, extra: number): void {
  const zeros = Buffer.alloc(64 * 1024);
  const chunks = (function* () {
    yield head;
    for (let left = extra; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
  })();
  let closed = false;
  res.on("close", () => (closed = true));
  const pump = () => {
    for (let next = chunks.next(); !closed; next = chunks.next()) {
      if (next.done) return void res.end();
      seen.sent += next.value.length;
      if (!res.write(next.value)) return void res.once("drain", pump);
    }
  };
  pump();
}
