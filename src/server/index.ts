// The server's public surface: start one (startServer), or mount its routes in your own Hono app
// (createApp with a ServerContext), and the one schema of its settings.
export { startServer, type RunningServer, type StartServerOptions } from "./server.js";
export { createApp } from "./app.js";
export type { ServerContext } from "./context.js";
export { ModelRegistry, type ServedModel, type ModelKind } from "./models.js";
export { ServeOptionsSchema, parseServeOptions, type ServeOptions } from "./options.js";
