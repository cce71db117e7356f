import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';

// The MCP SDK ships ESM and CommonJS; the server and the CLI load it as CommonJS, under jest too.
describe('the MCP SDK under CommonJS', () => {
  it('loads its server, client and transports, and a client lists a zod-described tool', async () => {
    expect(
      [StreamableHTTPServerTransport, StreamableHTTPClientTransport, StdioClientTransport, StdioServerTransport].every((c) => typeof c === 'function'),
    ).toBe(true);
    const server = new McpServer({ name: 'probe', version: '0.0.0' });
    server.registerTool('echo', { description: 'Echoes', inputSchema: { text: z.string().max(10) } }, ({ text }) => ({
      content: [{ type: 'text', text }],
      structuredContent: { text },
    }));
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'probe-client', version: '0.0.0' });
    await client.connect(clientSide);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(['echo']);
    expect(tools.tools[0].inputSchema.properties).toHaveProperty('text');
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(result.structuredContent).toEqual({ text: 'hi' });
    const invalid = await client.callTool({ name: 'echo', arguments: { text: 'much too long text' } });
    expect(invalid.isError).toBe(true);
    await client.close();
    await server.close();
  });
});
