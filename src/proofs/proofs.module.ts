import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LeasesModule } from '../leases/leases.module';
import { JwksController } from './jwks.controller';
import { RevocationListController } from './revocation-list.controller';
import { RevocationListService } from './revocation-list.service';
import { LeaseProofResolver } from './lease-proof.resolver';
import { LeaseProofsService } from './lease-proofs.service';
import { SigningKeyEntity } from './signing-key.entity';
import { SigningKeysService } from './signing-keys.service';

/** Signed lease proofs: Lease.proof, verifyLease, the JWKS that lets tools check proofs offline, and the revocation list of borrowed leases. */
@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity]), LeasesModule],
  controllers: [JwksController, RevocationListController],
  providers: [SigningKeysService, LeaseProofsService, LeaseProofResolver, RevocationListService],
  exports: [SigningKeysService, LeaseProofsService],
})
export class ProofsModule {}
