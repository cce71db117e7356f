import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LeasesModule } from '../leases/leases.module';
import { JwksController } from './jwks.controller';
import { LeaseProofResolver } from './lease-proof.resolver';
import { LeaseProofsService } from './lease-proofs.service';
import { SigningKeyEntity } from './signing-key.entity';
import { SigningKeysService } from './signing-keys.service';

/** Signed lease proofs: Lease.proof, verifyLease and the JWKS that lets tools check proofs offline. */
@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity]), LeasesModule],
  controllers: [JwksController],
  providers: [SigningKeysService, LeaseProofsService, LeaseProofResolver],
  exports: [SigningKeysService, LeaseProofsService],
})
export class ProofsModule {}
