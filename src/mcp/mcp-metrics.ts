import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';

/** MCP series on the process's registry: open sessions, and tool calls by tool and outcome (ok or a contract code). */
@Injectable()
export class McpMetrics {
  readonly sessionsOpen: Gauge;
  readonly toolCalls: Counter;

  constructor(metrics: MetricsService) {
    this.sessionsOpen = new Gauge({
      name: 'tokenpool_mcp_sessions_open',
      help: 'MCP sessions open on this API replica.',
      registers: [metrics.registry],
    });
    // Both labels come from fixed sets (the tool names, "ok" and the contract's codes), never from the client.
    this.toolCalls = new Counter({
      name: 'tokenpool_mcp_tool_calls_total',
      help: 'MCP tool calls on this replica by tool and outcome ("ok" or the refusal code).',
      labelNames: ['tool', 'outcome'],
      registers: [metrics.registry],
    });
  }
}
