import type { EngineInfo } from '../engines/contract.js';
import { compareVersions } from './install/npm-resolver.js';

export interface VersionNotice {
  eol: boolean;
  eol_date?: string;
  /** Within 180 days of end of life. */
  eol_soon?: boolean;
  update_available?: string;
  message?: string;
}

export function versionNotice(info: EngineInfo, version: string, fullVersion: string | undefined, today = new Date()): VersionNotice {
  const line = info.versions.find((v) => v.version === version);
  if (!line) return { eol: false };
  const notice: VersionNotice = { eol: false };
  const messages: string[] = [];
  if (line.eol) {
    notice.eol_date = line.eol;
    const days = (Date.parse(line.eol) - today.getTime()) / 86_400_000;
    if (days < 0) {
      notice.eol = true;
      messages.push(`${info.displayName} ${version} reached end of life on ${line.eol}; it gets no security fixes. Plan an upgrade to ${info.defaultVersion}.`);
    } else if (days < 180) {
      notice.eol_soon = true;
      messages.push(`${info.displayName} ${version} reaches end of life on ${line.eol}.`);
    }
  }
  if (line.latest && fullVersion && compareVersions(fullVersion.split(/\s/)[0]!, line.latest) < 0) {
    notice.update_available = line.latest;
    messages.push(`Update available: ${fullVersion} -> ${line.latest}.`);
  }
  if (messages.length) notice.message = messages.join(' ');
  return notice;
}
