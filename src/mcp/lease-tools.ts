import { Injectable } from '@nestjs/common';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { AppsService } from '../apps/apps.service';
import { AppError } from '../common/errors/app-error';
import { isUuid } from '../common/validation/validate';
import type { LeaseEntity } from '../leases/lease.entity';
import { LeaseRecordsService } from '../leases/lease-records.service';
import { leaseView } from '../leases/lease-view';
import { LeasesService } from '../leases/leases.service';
import { QuotesService } from '../leases/quotes.service';
import { LeaseProofsService } from '../proofs/lease-proofs.service';
import { McpMetrics } from './mcp-metrics';
import { beatIntervalMs, McpSession } from './mcp-session';
import { PoolViews } from './pool-views';
import { READERS, runTool, WRITERS } from './tool-runner';
import type { ToolAnswer } from './tool-result';
import { WorkUnitRefs } from './work-unit-refs';

const pool = z.string().min(1).max(255).describe('The pool, by its name or its id (list_pools shows both).');
const app = z.string().min(1).max(64).describe('The app key, as list_pools shows it under the pool\'s apps (e.g. "hypermesh").');

const REFUSALS =
  'A refusal comes back with isError and structuredContent.code: POOL_EXHAUSTED or GROUP_LIMIT_REACHED (not enough credits now; structuredContent has available, requested and retryAfterSeconds: wait that long and call again, or call again with waitSeconds to queue), QUEUE_TIMEOUT (you queued waitSeconds and no credits came free: try later), NOT_FOUND (no such pool or app: call list_pools), FORBIDDEN (your API key may not do this: tell the user), RATE_LIMITED or UNAVAILABLE (retry after retryAfterSeconds).';

/** The tools of the lease life cycle: list_pools, quote, checkout, checkin, my_leases. */
@Injectable()
export class LeaseTools {
  constructor(
    private readonly leases: LeasesService,
    private readonly quotes: QuotesService,
    private readonly records: LeaseRecordsService,
    private readonly proofs: LeaseProofsService,
    private readonly apps: AppsService,
    private readonly pools: PoolViews,
    private readonly workUnits: WorkUnitRefs,
    private readonly metrics: McpMetrics,
  ) {}

  register(server: McpServer, session: McpSession): void {
    const run = <A>(tool: string, roles: typeof READERS, work: Parameters<typeof runTool<A>>[4]) => runTool<A>(session, this.metrics, tool, roles, work);

    server.registerTool(
      'list_pools',
      {
        description:
          'Lists the license pools you can draw from, each with its cap, the credits in use and available now, active leases, queue length, and its apps with what each costs in credits. Call it first to learn the pool names and app keys the other tools take.',
        inputSchema: {},
        annotations: { readOnlyHint: true },
      },
      run<Record<string, never>>('list_pools', READERS, async () => ({ pools: await this.pools.list(session.auth) })),
    );

    server.registerTool(
      'quote',
      {
        description: `Tells you, without checking anything out, what checking this app out of this pool would cost you now: cost in credits, whether it would be granted (grantable), credits available to you, queueLength and estimatedWaitSeconds. Call it to plan instead of retrying checkouts. ${REFUSALS}`,
        inputSchema: { pool, app },
        annotations: { readOnlyHint: true },
      },
      run<{ pool: string; app: string }>('quote', WRITERS, async (args) => {
        const found = await this.pools.resolve(session.auth, args.pool);
        const quote = await this.quotes.quote(session.auth, { poolId: found.id, appKey: args.app, host: null, workUnitId: null });
        return { pool: { id: found.id, name: found.name }, app: args.app, ...quote };
      }),
    );

    server.registerTool(
      'checkout',
      {
        description: `Checks an app (a license) out of a pool: you then hold its credits until you call checkin with the leaseId. Call it right before you use the tool, and check in as soon as you are done. You need no heartbeats: this MCP session keeps the lease alive while the session is open, and checks it in when the session is closed or has been idle for a while. The answer is the lease: leaseId, credits, fencingToken, proof (a signed JWT the tool can verify) and expiresAt. ${REFUSALS}`,
        inputSchema: {
          pool,
          app,
          waitSeconds: z
            .number()
            .int()
            .min(0)
            .max(300)
            .optional()
            .describe('Queue up to this many seconds for credits (first come, first served) instead of being refused at once. Default 0.'),
          leaseSeconds: z
            .number()
            .int()
            .min(5)
            .max(604_800)
            .optional()
            .describe(
              "Lease length: how long the lease survives without heartbeats if this session dies. Default: the pool's defaultLeaseSeconds; at most its maxLeaseSeconds.",
            ),
          workUnit: z
            .string()
            .min(1)
            .max(255)
            .optional()
            .describe('The externalRef of the work unit (task) this license is used for; created if it does not exist. Its cost is charged to it.'),
          host: z.string().min(1).max(255).optional().describe('The host the tool runs on (apps shared per host count once per host).'),
          idempotencyKey: z
            .string()
            .min(1)
            .max(255)
            .optional()
            .describe('Your id for this checkout: calling again with the same key and arguments returns the same lease instead of a second one.'),
        },
      },
      run<{ pool: string; app: string; waitSeconds?: number; leaseSeconds?: number; workUnit?: string; host?: string; idempotencyKey?: string }>(
        'checkout',
        WRITERS,
        async (args, extra) => {
          const found = await this.pools.resolve(session.auth, args.pool);
          const workUnitId = args.workUnit === undefined ? null : await this.workUnits.idOf(session.auth, args.workUnit, 'workUnit');
          const lease = await this.leases.checkout(
            session.auth,
            {
              poolId: found.id,
              app: args.app,
              waitSeconds: args.waitSeconds,
              leaseSeconds: args.leaseSeconds,
              workUnitId,
              host: args.host,
              idempotencyKey: args.idempotencyKey,
            },
            extra.signal,
          );
          if (session.closed) {
            // The session ended while the check-out waited: nobody would keep this lease alive.
            await this.leases.checkin(session.auth, lease.id);
            throw AppError.unavailable('The MCP session closed while the check-out ran; the lease was checked in again. Open a new session and retry', 1);
          }
          session.hold(lease.id, lease.leaseSeconds);
          return { lease: await this.describe(session, lease, { pool: found.name, app: args.app }) };
        },
      ),
    );

    server.registerTool(
      'checkin',
      {
        description:
          'Checks a lease in: its credits go back to the pool at once. Call it as soon as you are done with the tool. Idempotent: checking in a lease that already ended returns it as it is. NOT_FOUND means the lease is not yours or does not exist.',
        inputSchema: { leaseId: z.string().min(1).max(100).describe('The leaseId that checkout returned.') },
        annotations: { idempotentHint: true },
      },
      run<{ leaseId: string }>('checkin', WRITERS, async (args) => {
        if (!isUuid(args.leaseId)) throw new AppError('NOT_FOUND', `No lease with id ${args.leaseId.slice(0, 100)} of yours`, { field: 'leaseId' });
        const lease = await this.leases.checkin(session.auth, args.leaseId);
        session.leases.delete(lease.id);
        const view = leaseView(lease);
        return { lease: { leaseId: view.id, state: view.state, credits: view.credits, endedAt: view.endedAt?.toISOString() ?? null } };
      }),
    );

    server.registerTool(
      'my_leases',
      {
        description:
          "Lists your active leases (those of your API key's principal), newest first, each with heldBySession: true when this session checked it out and keeps it alive. Call it to find a leaseId you need to check in, or to see what you still hold.",
        inputSchema: {},
        annotations: { readOnlyHint: true },
      },
      run<Record<string, never>>('my_leases', READERS, async () => {
        const auth = session.auth;
        const rows = await this.records.list({ organizationId: auth.organizationId, principalId: auth.principalId, state: 'ACTIVE', first: 100 });
        const apps = new Map((await this.apps.findManyInOrganization(auth.organizationId, [...new Set(rows.map((r) => r.appId))])).map((a) => [a.id, a.key]));
        return { leases: await Promise.all(rows.map((row) => this.describe(session, row, { app: apps.get(row.appId) ?? null }))) };
      }),
    );
  }

  private async describe(session: McpSession, lease: LeaseEntity, names: { pool?: string; app: string | null }): Promise<ToolAnswer> {
    const view = leaseView(lease);
    const held = session.leases.get(view.id);
    return {
      leaseId: view.id,
      poolId: view.poolId,
      ...(names.pool === undefined ? {} : { pool: names.pool }),
      app: names.app,
      credits: view.credits,
      state: view.state,
      fencingToken: view.fencingToken,
      proof: await this.proofs.proofFor(session.auth, view),
      acquiredAt: view.acquiredAt.toISOString(),
      expiresAt: view.expiresAt.toISOString(),
      leaseSeconds: view.leaseSeconds,
      workUnitId: view.workUnitId,
      heldBySession: held !== undefined,
      ...(held ? { heartbeatEverySeconds: beatIntervalMs(held.leaseSeconds) / 1000 } : {}),
    };
  }
}
