// Loads the test files it is given into this one process (run-tests.mjs --fast starts it under tsx),
// so that node:test runs them all here: no process and TypeScript loader start-up per file, which is
// most of the time of a pure-module test. Only for the fast tier: its files share no servers, ports
// or databases, and test/test-tiers.test.ts keeps it that way.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

for (const file of process.argv.slice(2)) await import(pathToFileURL(resolve(file)).href);
