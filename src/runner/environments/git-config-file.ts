// Writes git configuration as text, in one step, instead of one `git config` process per value
// (an environment made from the cache would otherwise start a dozen processes for its settings).
// Quoting follows git-config(1), "Syntax", as git itself writes values: `"` and `\` escaped, a
// newline written `\n`, and double quotes around a value that has `;`, `#` or a space at either end.

export interface GitConfigEntry {
  section: string;
  /** `origin` in `[remote "origin"]`; none for `[credential]`. */
  subsection?: string;
  key: string;
  value: string;
}

const NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

/** As git writes a value (config.c, write_pair): quoted only when a space at either end, `;` or `#` need it. */
function quote(value: string): string {
  const escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return /^\s|\s$|[;#]/.test(value) ? `"${escaped}"` : escaped;
}

/** Sections in the order their first entry appears; repeated keys (credential.helper) stay in order. */
export function formatGitConfig(entries: readonly GitConfigEntry[]): string {
  const sections = new Map<string, string[]>();
  for (const e of entries) {
    if (!NAME.test(e.section) || !NAME.test(e.key)) throw new Error(`not a git configuration name: ${e.section}.${e.key}`);
    if (e.subsection !== undefined && /[\n\0]/.test(e.subsection)) throw new Error('a configuration subsection cannot hold a newline');
    const header =
      e.subsection === undefined ? `[${e.section}]` : `[${e.section} "${e.subsection.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"]`;
    const lines = sections.get(header) ?? [];
    lines.push(`\t${e.key} = ${quote(e.value)}`);
    sections.set(header, lines);
  }
  return [...sections].map(([header, lines]) => `${header}\n${lines.join('\n')}\n`).join('');
}
