// Drives every tool and the resources of a streamrt MCP server with the official TypeScript SDK's client, and
// prints what it saw as one JSON object on stdout (the Python test asserts on it).
//
//   node mcp_client.mjs stdio COMMAND ARG...      launch the server as a command (streamrt mcp SCRIPT)
//   node mcp_client.mjs http URL [TOKEN]          Streamable HTTP (streamrt serve --mcp)
//
// The script is the same for both transports: it starts a stream of the test script's running-total processor,
// pushes to it while stream.watch follows it, pauses and resumes it, reads and subscribes to its resource, and
// cancels a second stream.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const [mode, ...rest] = process.argv.slice(2);
let transport;
if (mode === "stdio") {
  transport = new StdioClientTransport({ command: rest[0], args: rest.slice(1), stderr: "inherit" });
} else if (mode === "http") {
  const headers = rest[1] ? { Authorization: `Bearer ${rest[1]}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(rest[0]), { requestInit: { headers } });
} else {
  console.error("usage: mcp_client.mjs stdio COMMAND ARG... | http URL [TOKEN]");
  process.exit(2);
}

const client = new Client({ name: "streamrt-ts-test", version: "1.0.0" });
const updates = [];
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
await client.connect(transport);

const seen = {};
const call = async (name, args, options) => {
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  if (result.isError) {
    return { error: result._meta?.["dev.streamrt/error"] ?? result.content };
  }
  return result.structuredContent;
};
const id = `ts-${mode}`;

seen.tools = (await client.listTools()).tools.map((t) => t.name).sort();
seen.started = await call("stream.start", { processor: "running-total", stream_id: id });
await client.subscribeResource({ uri: `streamrt://streams/${id}` });
seen.pushed = await call("stream.push", { stream_id: id, chunks: [{ n: 1 }, { n: 2 }] });

const progress = [];
const watching = call("stream.watch", { stream_id: id }, {
  onprogress: (p) => progress.push({ progress: p.progress, message: JSON.parse(p.message) }),
  resetTimeoutOnProgress: true,
  timeout: 60000,
});
seen.paused = (await call("stream.pause", { stream_id: id })).status;
await call("stream.push", { stream_id: id, chunks: [{ n: 3 }] });
seen.inspected_paused = await call("stream.inspect", { stream_id: id, include_queue: true });
seen.resumed = (await call("stream.resume", { stream_id: id })).status;
await call("stream.push", { stream_id: id, chunks: [{ n: 4, last: true }] });
seen.watched = await watching;
seen.progress = progress;

const read = await client.readResource({ uri: `streamrt://streams/${id}` });
seen.resource = JSON.parse(read.contents[0].text);
seen.resources = (await client.listResources()).resources.map((r) => r.uri);
for (let i = 0; i < 100 && updates.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
seen.updates = updates;

await call("stream.start", { processor: "running-total", stream_id: `${id}-2` });
seen.cancelled = (await call("stream.cancel", { stream_id: `${id}-2` })).status;
seen.listed = (await call("stream.list", {})).streams.map((s) => [s.id, s.status]);
seen.refused = await call("stream.push", { stream_id: "no-such-stream", chunks: [1] });

await client.close();
process.stdout.write(JSON.stringify(seen) + "\n");
