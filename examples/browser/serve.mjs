// Serves the browser example on http://localhost:8080/ (or PORT): this
// folder, the built TypeScript client at /client/, and its MessagePack
// dependency at /vendor/msgpack/. No dependency of its own.
//
// Run from the repository: `npm --prefix client-ts run example`.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const roots = [
  ["/client/", join(here, "../../client-ts/dist/")],
  ["/vendor/msgpack/", join(here, "../../client-ts/node_modules/@msgpack/msgpack/dist.esm/")],
  ["/", here],
];
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json" };

/** The file `path` names under one of the roots, never outside it. */
function fileOf(path) {
  for (const [prefix, root] of roots) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(root, path.slice(prefix.length) || "index.html"));
    return file.startsWith(root) ? file : undefined;
  }
  return undefined;
}

const server = createServer(async (request, response) => {
  const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
  const file = fileOf(path);
  try {
    if (!file) throw new Error("outside");
    const body = await readFile(file);
    response.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    response.end(body);
  } catch {
    response.writeHead(404, { "content-type": "text/plain" });
    response.end("not found");
  }
});
const port = Number(process.env.PORT ?? 8080);
server.listen(port, process.env.HOST ?? "127.0.0.1", () => {
  console.log(`example on http://localhost:${server.address().port}/`);
});
