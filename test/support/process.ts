import { spawn } from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';

/**
 * Runs `command` with `input` on its stdin and collects what it writes. Resolves when it exits,
 * whatever the code (-1 when a signal ended it): the tests assert on the code themselves.
 */
export function runCollecting(
  command: string,
  args: string[],
  input: string,
  options: Omit<SpawnOptions, 'stdio'> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    // A command that exits without reading its input must not fail the write.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}
