import type { AppMirror } from '../lease-engine/lease-store.types';
import type { CatalogAppEntity } from './catalog-app.entity';

/** What the lease store needs to know of an app. */
export function appMirror(app: CatalogAppEntity): AppMirror {
  return { appId: app.id, cost: app.cost, shareScope: app.shareScope, lingerMs: app.lingerSeconds * 1000 };
}
