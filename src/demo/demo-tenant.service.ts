import { Injectable } from '@nestjs/common';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { AppsService } from '../apps/apps.service';
import type { CatalogAppEntity } from '../apps/catalog-app.entity';
import type { AuditActor } from '../audit/audit.service';
import type { AuthContext } from '../auth/auth-context';
import { BudgetPeriod, BudgetScope } from '../budgets/budget.model';
import { BudgetsService } from '../budgets/budgets.service';
import { ModelPricesService } from '../compute-usage/model-prices.service';
import { OnboardingService } from '../onboarding/onboarding.service';
import type { PoolEntity } from '../pools/pool.entity';
import { PoolsService } from '../pools/pools.service';
import type { PrincipalEntity } from '../principals/principal.entity';
import { PrincipalsService } from '../principals/principals.service';
import { DEMO_MODEL_PRICES, DEMO_PEOPLE, DEMO_POOLS, DemoPool } from './demo-catalog';

export interface DemoTenant {
  organizationId: string;
  adminKey: string;
  viewerKey: string;
  agentKeys: Record<string, string>;
  pools: Map<DemoPool['id'], { pool: PoolEntity; apps: Map<string, CatalogAppEntity> }>;
  principals: Map<string, PrincipalEntity>;
}

/** The demo's compute budgets, in its currency (EUR). */
const DEMO_BUDGETS: { name: string; scope: BudgetScope; team?: string; principal?: string; period: BudgetPeriod; limit: number }[] = [
  { name: 'Company AI, monthly', scope: BudgetScope.ORGANIZATION, period: BudgetPeriod.MONTH, limit: 1500 },
  { name: 'Quotation agents, daily', scope: BudgetScope.TEAM, team: 'quotation', period: BudgetPeriod.DAY, limit: 25 },
  { name: 'GenAI lab, monthly', scope: BudgetScope.TEAM, team: 'ai-programme', period: BudgetPeriod.MONTH, limit: 300 },
  { name: 'Twin agent, in total', scope: BudgetScope.PRINCIPAL, principal: 'twin-agent', period: BudgetPeriod.TOTAL, limit: 2000 },
];

/** The seeded principal acting as itself: work units, compute usage and outcomes carry its id. */
export function authOf(organizationId: string, principal: PrincipalEntity): AuthContext {
  return {
    keyId: 'seed-demo',
    organizationId,
    principalId: principal.id,
    principalKind: principal.kind,
    team: principal.team,
    role: 'CLIENT',
    expiresAt: null,
  };
}

/**
 * The demo organization's set-up, through the services an admin's mutations call (so names,
 * costs, reservations and prices get the same validation, audit rows and Redis mirrors).
 */
@Injectable()
export class DemoTenantService {
  constructor(
    private readonly onboarding: OnboardingService,
    private readonly principals: PrincipalsService,
    private readonly apiKeys: ApiKeysService,
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
    private readonly prices: ModelPricesService,
    private readonly budgets: BudgetsService,
  ) {}

  async create(input: { name: string; pricesFrom: Date }): Promise<DemoTenant> {
    const { organizationId, adminKey } = await this.onboarding.createOrganization({ name: input.name, currency: 'EUR' });
    const admin = (await this.principals.list(organizationId))[0];
    const actor: AuditActor = { organizationId, actorPrincipalId: admin.id };
    const pools = new Map<DemoPool['id'], { pool: PoolEntity; apps: Map<string, CatalogAppEntity> }>();
    for (const spec of DEMO_POOLS) pools.set(spec.id, await this.pool(actor, spec));
    const principals = new Map<string, PrincipalEntity>();
    for (const person of DEMO_PEOPLE) {
      principals.set(
        person.name,
        await this.principals.create({
          organizationId,
          actorPrincipalId: admin.id,
          input: { name: person.name, kind: person.kind, team: person.team, orgUnitKind: person.orgUnitKind },
        }),
      );
    }
    const keyFor = async (name: string, role: 'CLIENT' | 'VIEWER') =>
      (await this.apiKeys.create({ organizationId, actorPrincipalId: admin.id, principalId: principals.get(name)!.id, role })).secret;
    const agentKeys: Record<string, string> = {};
    for (const person of DEMO_PEOPLE.filter((p) => p.kind === 'AGENT')) agentKeys[person.name] = await keyFor(person.name, 'CLIENT');
    const viewerKey = await keyFor('finance-viewer', 'VIEWER');
    // Effective before the first day of history, so every seeded model call is priced as it is written.
    for (const price of DEMO_MODEL_PRICES) await this.prices.set(authOf(organizationId, admin), { ...price, effectiveFrom: input.pricesFrom });
    return { organizationId, adminKey, viewerKey, agentKeys, pools, principals };
  }

  /**
   * Compute budgets over the seeded history (created after it, so what they spent is read from
   * the ledger): the organization's month, two teams and one agent.
   */
  async createBudgets(tenant: DemoTenant): Promise<number> {
    const admin = (await this.principals.list(tenant.organizationId))[0];
    const actor = { organizationId: tenant.organizationId, principalId: admin.id };
    for (const budget of DEMO_BUDGETS) {
      const principalId = budget.principal ? tenant.principals.get(budget.principal)!.id : null;
      await this.budgets.create(actor, {
        name: budget.name,
        scope: budget.scope,
        team: budget.team ?? null,
        principalId,
        period: budget.period,
        limit: budget.limit,
      });
    }
    return DEMO_BUDGETS.length;
  }

  private async pool(actor: AuditActor, spec: DemoPool): Promise<{ pool: PoolEntity; apps: Map<string, CatalogAppEntity> }> {
    const pool = await this.pools.create(actor, {
      name: spec.name,
      cap: spec.cap,
      creditHourPrice: spec.creditHourPrice,
      maxLeaseSeconds: spec.maxLeaseSeconds,
      defaultLeaseSeconds: 300,
    });
    const apps = new Map<string, CatalogAppEntity>();
    for (const app of spec.apps) apps.set(app.key, await this.apps.create(actor, { poolId: pool.id, ...app }));
    for (const limit of spec.limits) await this.pools.setGroupLimit(actor, { poolId: pool.id, ...limit });
    return { pool, apps };
  }
}
