import { Controller, Get, Header } from '@nestjs/common';
import { PublishedJwk, SigningKeysService } from './signing-keys.service';

/** The public keys that verify lease proofs, for tools that check them offline. No authentication. */
@Controller('.well-known')
export class JwksController {
  constructor(private readonly keys: SigningKeysService) {}

  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  async jwks(): Promise<{ keys: PublishedJwk[] }> {
    return { keys: await this.keys.publishedKeys() };
  }
}
