"""A minimal MCP peer over stdio for benchmarks/bench_mcp.py: it answers ``initialize`` and one ``tools/call`` by
writing the call's progress notifications as fast as a pipe takes them (pre-encoded lines, no SDK), then the
result, so what a benchmark measures is the client's side. Not a server to use: it speaks just enough of MCP."""

from __future__ import annotations

import json
import sys


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if method == "initialize":
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "firehose", "version": "1"},
            }
            out.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode() + b"\n")
            out.flush()
        elif method == "tools/call":
            params = message["params"]
            steps = int(params["arguments"]["steps"])
            token = json.dumps(params["_meta"]["progressToken"])
            head = '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":' + token
            lines = [f'{head},"progress":{i},"total":{steps}}}}}\n' for i in range(1, steps + 1)]
            out.write("".join(lines).encode())
            result = {"content": [{"type": "text", "text": "done"}], "structuredContent": {"steps": steps}}
            out.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode() + b"\n")
            out.flush()
        elif method == "tools/list":  # the SDK's client lists tools to learn the output schema
            tool = {"name": "progress", "inputSchema": {"type": "object"}}
            reply = {"jsonrpc": "2.0", "id": request_id, "result": {"tools": [tool]}}
            out.write(json.dumps(reply).encode() + b"\n")
            out.flush()
        elif request_id is not None and method is not None:
            out.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}}).encode() + b"\n")
            out.flush()


if __name__ == "__main__":
    main()
