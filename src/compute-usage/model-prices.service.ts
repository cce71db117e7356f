import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { BudgetSpendService } from '../budget-engine/budget-spend.service';
import type { AuthContext } from '../auth/auth-context';
import { requireNumber, requireValidDate } from '../common/validation/validate';
import { ComputeLedgerWriter } from '../ledger/compute-ledger-writer';
import { requireName } from './compute-events';
import { ModelPriceInput } from './dto/compute-usage.inputs';
import { ModelPriceEntity } from './model-price.entity';

const MAX_PRICE_PER_MILLION = 1_000_000;

/**
 * The model price table: versions by effective date, never changed. A version whose
 * effectiveFrom lies in the past prices, in the same transaction, the unpriced compute rows
 * of its model from that date on with correction rows.
 */
@Injectable()
export class ModelPricesService {
  private readonly logger = new Logger(ModelPricesService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly writer: ComputeLedgerWriter,
    private readonly audit: AuditService,
    private readonly budgets: BudgetSpendService,
  ) {}

  async set(auth: AuthContext, input: ModelPriceInput): Promise<ModelPriceEntity> {
    const values = this.validated(input);
    const { price, corrected, epoch, teams } = await this.dataSource.transaction(async (manager) => {
      // Corrections count into the budgets' spent like any usage: the epoch first (see BudgetSpendService).
      const epoch = await this.budgets.epochFor(manager, auth.organizationId);
      const price = await manager.save(
        ModelPriceEntity,
        manager.create(ModelPriceEntity, { ...values, organizationId: auth.organizationId, createdByPrincipalId: auth.principalId }),
      );
      await this.audit.record(manager, {
        organizationId: auth.organizationId,
        actorPrincipalId: auth.principalId,
        action: 'setModelPrice',
        objectId: price.id,
        before: null,
        after: { ...values, effectiveFrom: values.effectiveFrom.toISOString() },
      });
      const corrected = await this.writer.appendCorrections(manager, {
        organizationId: auth.organizationId,
        provider: values.provider,
        model: values.model,
        from: values.effectiveFrom,
      });
      const principals = [...new Set(corrected.map((c) => c.principalId))];
      const teams: { id: string; team: string | null }[] =
        principals.length === 0
          ? []
          : await manager.query('SELECT id, team FROM principals WHERE organization_id = $1 AND id = ANY($2::uuid[])', [auth.organizationId, principals]);
      return { price, corrected, epoch, teams: new Map(teams.map((p) => [p.id, p.team])) };
    });
    if (corrected.length > 0) {
      this.logger.log(
        { organizationId: auth.organizationId, priceId: price.id, corrected: corrected.length },
        'Priced earlier unpriced compute events with correction rows',
      );
      await this.budgets.chargeEach(
        auth.organizationId,
        epoch,
        corrected.map((c) => ({ ...c, team: teams.get(c.principalId) ?? null })),
      );
    }
    return price;
  }

  private validated(input: ModelPriceInput) {
    const inputPerMillion = requireNumber(input.inputPerMillion, 'input.inputPerMillion', { min: 0, max: MAX_PRICE_PER_MILLION });
    return {
      provider: requireName(input.provider, 'input.provider'),
      model: requireName(input.model, 'input.model'),
      inputPerMillion,
      outputPerMillion: requireNumber(input.outputPerMillion, 'input.outputPerMillion', { min: 0, max: MAX_PRICE_PER_MILLION }),
      cachedInputPerMillion:
        input.cachedInputPerMillion == null
          ? inputPerMillion
          : requireNumber(input.cachedInputPerMillion, 'input.cachedInputPerMillion', { min: 0, max: MAX_PRICE_PER_MILLION }),
      effectiveFrom: input.effectiveFrom == null ? new Date() : requireValidDate(input.effectiveFrom, 'input.effectiveFrom'),
    };
  }
}
