import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../config/env';
import { dataSourceOptions } from './data-source';

// For the TypeORM CLI only (`npm run migration:generate -- migrations/<ts>-<intent>`).
export default new DataSource(dataSourceOptions(loadConfig().databaseUrl, { entities: [join(__dirname, '..', '..', '**', '*.entity.{js,ts}')] }));
