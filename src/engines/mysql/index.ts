import type { Engine } from '../contract.js';
import { createMysqlFamilyEngine } from '../mysql-family/index.js';

/** MySQL 8.0 / 8.4: the shared MySQL-family module with the MySQL flavour. */
export const engine: Engine = createMysqlFamilyEngine('mysql');
