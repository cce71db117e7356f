import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isInitializeRequest, isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage, type JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { UsageError } from '../args';
import { CONNECTION_HELP, type Command } from '../command';
import { ExitCode } from '../exit-codes';

/** How long the bridge waits for the server to delete its session when stdin closes. */
const GOODBYE_MS = 5000;
const INTERNAL_ID = 'tokenpool-bridge-';

/**
 * `tokenpool mcp`: the MCP server for agents over stdio. It holds no tools of its own: it
 * relays every message between stdin/stdout and the server's Streamable HTTP endpoint
 * (<url>/mcp) with the API key, so every tool exists once, in the server. When stdin closes
 * it deletes the server session (whose leases the server then checks in) and exits 0.
 */
export const mcpCommand: Command = {
  name: 'mcp',
  summary: 'MCP server for agents over stdio (relays to the server at <url>/mcp)',
  help: `Usage: tokenpool mcp

Speaks the Model Context Protocol on stdin/stdout for an agent host (Claude Desktop, an IDE,
an agent framework) and relays each message to the tokenpool server's /mcp endpoint with your
API key. The tools (list_pools, quote, checkout, checkin, my_leases, start_work_unit,
record_usage, record_outcome) and resources live in the server; leases checked out through
the session are kept alive by the server and checked in when the session ends: when stdin
closes, or when the session has been idle for MCP_SESSION_IDLE_SECONDS. If the server forgets
the session (its replica went away), the bridge opens a new one; leases of the old one expire
by their length. A key the server refuses ends the bridge with exit code 77. Diagnostics go
to stderr; stdout carries only MCP messages.

Client configuration (e.g. claude_desktop_config.json):
  { "mcpServers": { "tokenpool": { "command": "npx", "args": ["tokenpool", "mcp"],
      "env": { "TOKENPOOL_URL": "https://tokenpool.example.com", "TOKENPOOL_API_KEY": "tp_..." } } } }

${CONNECTION_HELP}`,
  options: {},
  maxPositionals: 0,
  async run(_parsed, context) {
    const { apiKey } = context.connection;
    if (!apiKey) throw new UsageError('needs an API key: set TOKENPOOL_API_KEY or pass --api-key', 'mcp');
    const base = (context.connection.url ?? 'http://localhost:3000').replace(/\/+$/, '');
    const bridge = new McpBridge(new URL(`${base}/mcp`), apiKey, context.io.stderr);
    return bridge.run(process.stdin, context.io.stdout);
  },
};

/** One stdio session relayed to one server session (re-opened if the server forgets it). */
class McpBridge {
  private http: StreamableHTTPClientTransport;
  private initialize?: JSONRPCRequest;
  private readonly internal = new Map<string, (message: JSONRPCMessage) => void>();
  private reopened = 0;
  private stdio?: StdioServerTransport;
  /** Ends the relay early (a refused key), with the exit code to report. */
  private stop?: (code: number) => void;

  constructor(
    private readonly endpoint: URL,
    private readonly apiKey: string,
    private readonly stderr: NodeJS.WritableStream,
  ) {
    this.http = this.connect();
  }

  /** Relays until stdin closes (exit 0) or the server refuses the key (exit 77). */
  async run(stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): Promise<number> {
    const stdio = new StdioServerTransport(stdin, stdout);
    this.stdio = stdio;
    stdio.onmessage = (message) => void this.forward(message);
    stdio.onerror = (err) => this.log(`stdin: ${err.message}`);
    await this.http.start();
    await stdio.start();
    const code = await new Promise<number>((resolve) => {
      const done = () => resolve(ExitCode.OK);
      stdin.once('end', done);
      stdin.once('close', done);
      process.once('SIGTERM', done);
      process.once('SIGINT', done);
      this.stop = resolve;
    });
    // The server checks in the session's leases when the session is deleted.
    await Promise.race([this.http.terminateSession().catch(() => undefined), new Promise((r) => setTimeout(r, GOODBYE_MS).unref())]);
    await this.http.close().catch(() => undefined);
    await stdio.close().catch(() => undefined);
    return code;
  }

  private connect(): StreamableHTTPClientTransport {
    const http = new StreamableHTTPClientTransport(this.endpoint, { requestInit: { headers: { authorization: `Bearer ${this.apiKey}` } } });
    http.onmessage = (message) => this.fromServer(http, message);
    http.onerror = (err) => this.log(err.message);
    return http;
  }

  private fromServer(http: StreamableHTTPClientTransport, message: JSONRPCMessage): void {
    if (http !== this.http) return;
    if ('id' in message && typeof message.id === 'string' && this.internal.has(message.id)) {
      this.internal.get(message.id)!(message);
      return;
    }
    // The transport sends the protocol version on every later request, as the SDK's own client does.
    if (isJSONRPCResultResponse(message) && this.initialize && message.id === this.initialize.id) this.useVersionOf(message);
    void this.stdio?.send(message).catch((err: Error) => this.log(`stdout: ${err.message}`));
  }

  private async forward(message: JSONRPCMessage): Promise<void> {
    if (isJSONRPCRequest(message) && isInitializeRequest(message)) this.initialize = message;
    let failure: unknown;
    try {
      await this.http.send(message);
      return;
    } catch (err) {
      failure = err;
    }
    if (failure instanceof StreamableHTTPError && failure.code === 404 && this.initialize && !isInitializeRequest(message)) {
      try {
        await this.reopen();
        await this.http.send(message);
        return;
      } catch (again) {
        failure = again;
      }
    }
    const text = redact((failure as Error).message, this.apiKey);
    this.log(text);
    // The host waits for an answer to every request: a relay that failed answers it with an error.
    if (isJSONRPCRequest(message)) await this.stdio?.send({ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: `tokenpool: ${text}` } });
    // A key the server does not accept will not start working: exit 77 as every tokenpool command does.
    if (failure instanceof StreamableHTTPError && failure.code === 401) this.stop?.(ExitCode.NO_PERMISSION);
  }

  /** The server no longer knows the session (its replica went away, or it idled out): open a new one with the host's own initialize. */
  private async reopen(): Promise<void> {
    const old = this.http;
    this.http = this.connect();
    await old.close().catch(() => undefined);
    await this.http.start();
    const id = `${INTERNAL_ID}${++this.reopened}`;
    const answered = new Promise<JSONRPCMessage>((resolve) => this.internal.set(id, resolve));
    await this.http.send({ ...this.initialize!, id });
    const answer = await answered;
    this.internal.delete(id);
    if (!isJSONRPCResultResponse(answer)) throw new Error('the server refused to open a new MCP session');
    this.useVersionOf(answer);
    await this.http.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.log(
      'the server no longer knew this session (its server went away or it was idle); opened a new one. Leases of the old session expire by their length: check my_leases',
    );
  }

  private useVersionOf(message: JSONRPCMessage): void {
    const version = isJSONRPCResultResponse(message) ? message.result.protocolVersion : undefined;
    if (typeof version === 'string') this.http.setProtocolVersion(version);
  }

  private log(text: string): void {
    this.stderr.write(`tokenpool mcp: ${redact(text, this.apiKey)}\n`);
  }
}

function redact(text: string, apiKey: string): string {
  return apiKey.length >= 4 ? text.split(apiKey).join('***') : text;
}
