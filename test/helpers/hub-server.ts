// A real HTTP server on 127.0.0.1 that serves files the way the Hugging Face hub does:
// /{repo}/resolve/{rev}/{file} (HEAD and GET with Range; LFS files redirect to /lfs/... with
// X-Linked-Etag/X-Linked-Size) and /api/models/{repo}/revision/{rev}. Tests use it to
// exercise downloads, resumes and failures for real.
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
}

export interface HubServer {
  endpoint: string;
  /** The next GET of this file sends this many bytes, then destroys the connection. */
  dropAfter(file: string, bytes: number): void;
  /** Serve altered bytes for this file from now on (metadata still describes the real file). */
  corrupt(file: string): void;
  /** Requests seen, e.g. "GET /o/r/resolve/main/f range=bytes=10-". */
  log: string[];
  close(): Promise<void>;
}

export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const threshold = options.lfsThreshold ?? 1024;
  const drops = new Map<string, number>();
  const corrupted = new Set<string>();
  const log: string[] = [];
  const load = (repo: string, file: string) => {
    const p = options.repos[repo]?.[file];
    if (!p) return undefined;
    const data = readFileSync(p);
    const lfs = data.length > threshold;
    const etag = lfs
      ? createHash("sha256").update(data).digest("hex")
      : createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
    return { data, lfs, etag };
  };

  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? "/");
    log.push(`${req.method} ${url}${req.headers.range ? ` range=${req.headers.range}` : ""}`);
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401).end("unauthorized");
      return;
    }
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url);
    if (api) {
      const files = options.repos[api[1]!];
      if (!files) return void res.writeHead(404).end("not found");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: api[1],
          sha: "0".repeat(40),
          siblings: Object.keys(files).map((rfilename) => ({ rfilename })),
        }),
      );
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const lfsPath = /^\/lfs\/([^/]+\/[^/]+)\/(.+)$/.exec(url);
    const repo = resolve?.[1] ?? lfsPath?.[1];
    const file = resolve?.[3] ?? lfsPath?.[2];
    const entry = repo && file ? load(repo, file) : undefined;
    if (!entry || !file) return void res.writeHead(404, { "x-error-code": "EntryNotFound" }).end("not found");
    if (resolve && entry.lfs) {
      res.writeHead(302, {
        location: `/lfs/${repo}/${file}`,
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
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === "HEAD") return void res.end();
    const drop = drops.get(file);
    if (drop !== undefined) {
      drops.delete(file);
      res.write(body.subarray(start, start + drop), () => {
        setTimeout(() => res.destroy(), 20);
      });
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dropAfter: (file, bytes) => drops.set(file, bytes),
    corrupt: (file) => corrupted.add(file),
    log,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
