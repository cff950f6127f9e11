import type { Engine } from '../contract.js';
import { createMysqlFamilyEngine } from '../mysql-family/index.js';

/** MariaDB 10.11 / 11.4: the shared MySQL-family module with the MariaDB flavour. */
export const engine: Engine = createMysqlFamilyEngine('mariadb');
