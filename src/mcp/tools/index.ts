/** Every MCP tool, in the order they are listed. Adding a tool = one file + one line here. */
import type { ToolDefinition } from '../tool-base.js';
import { dbStatus } from './db-status.js';
import { dbList } from './db-list.js';
import { dbSize } from './db-size.js';
import { dbTables } from './db-tables.js';
import { dbConnections } from './db-connections.js';
import { dbPerformance } from './db-performance.js';
import { dbBackupStatus } from './db-backup-status.js';
import { dbBackupCreate } from './db-backup-create.js';
import { dbRestore } from './db-restore.js';
import { dbVacuum } from './db-vacuum.js';
import { dbSchema } from './db-schema.js';
import { dbTableInfo } from './db-table-info.js';
import { dbIndexes } from './db-indexes.js';
import { dbConstraints } from './db-constraints.js';
import { dbQuery } from './db-query.js';

export const TOOLS: readonly ToolDefinition[] = [
  dbStatus,
  dbList,
  dbSize,
  dbTables,
  dbConnections,
  dbPerformance,
  dbBackupStatus,
  dbBackupCreate,
  dbRestore,
  dbVacuum,
  dbSchema,
  dbTableInfo,
  dbIndexes,
  dbConstraints,
  dbQuery,
] as unknown as readonly ToolDefinition[];
