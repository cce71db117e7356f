import { Module } from '@nestjs/common';
import { UiRoute } from './ui.route';

/** The dashboard at /ui/ (docs/dashboard.md): the built single-page app, served from memory. */
@Module({ providers: [UiRoute] })
export class UiModule {}
