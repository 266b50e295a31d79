import { readFileSync } from 'node:fs';
import { arch, hostname } from 'node:os';
import type { TemplateFacts } from '../../common/jinja-lite.js';

/*
 * The Ansible facts of this host that upstream configuration templates read (see
 * common/jinja-lite.ts): os_family, distribution, distribution_major_version,
 * distribution_release, architecture, hostname. Derived from /etc/os-release as Ansible does.
 */

const FAMILIES: readonly [RegExp, string][] = [
  [/\b(debian|ubuntu|raspbian|linuxmint|pop)\b/, 'Debian'],
  [/\b(rhel|centos|fedora|rocky|almalinux|ol|amzn|redhat)\b/, 'RedHat'],
  [/\b(suse|opensuse|sles)\b/, 'Suse'],
  [/\b(arch|manjaro)\b/, 'Archlinux'],
  [/\b(alpine)\b/, 'Alpine'],
  [/\b(gentoo)\b/, 'Gentoo'],
];

/** Ansible's `distribution` for an os-release ID. */
const DISTRIBUTIONS: Readonly<Record<string, string>> = {
  debian: 'Debian',
  ubuntu: 'Ubuntu',
  centos: 'CentOS',
  rhel: 'RedHat',
  rocky: 'Rocky',
  almalinux: 'AlmaLinux',
  fedora: 'Fedora',
  ol: 'OracleLinux',
  opensuse: 'openSUSE',
  'opensuse-leap': 'openSUSE Leap',
  sles: 'SLES',
  arch: 'Archlinux',
  alpine: 'Alpine',
};

const ARCHES: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x' };

/** Parses os-release text (KEY=value, optionally quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m?.[1]) continue;
    out[m[1]] = (m[2] ?? '').replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** Facts from os-release text and the process's view of the machine. */
export function templateFacts(osRelease: string): TemplateFacts {
  const os = parseOsRelease(osRelease);
  const id = (os.ID ?? 'linux').toLowerCase();
  const like = `${id} ${(os.ID_LIKE ?? '').toLowerCase()}`;
  const family = FAMILIES.find(([re]) => re.test(id))?.[1] ?? FAMILIES.find(([re]) => re.test(like))?.[1] ?? 'Linux';
  const version = os.VERSION_ID ?? '';
  return {
    os_family: family,
    distribution: DISTRIBUTIONS[id] ?? os.NAME ?? id,
    distribution_version: version,
    distribution_major_version: version.split('.')[0] ?? '',
    distribution_release: os.VERSION_CODENAME ?? '',
    architecture: ARCHES[arch()] ?? arch(),
    hostname: hostname().split('.')[0] ?? '',
    system: 'Linux',
  };
}

let cached: TemplateFacts | null = null;

/** This host's facts (read once). */
export function hostTemplateFacts(): TemplateFacts {
  if (cached) return cached;
  let text = '';
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      text = readFileSync(path, 'utf8');
      break;
    } catch {
      // try the next
    }
  }
  cached = templateFacts(text);
  return cached;
}
