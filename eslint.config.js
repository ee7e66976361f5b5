import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import boundaries from './eslint-rules/boundaries.js';

// Which folder may import which: docs/architecture.md. Test files are exempt (they wire both planes).
const SHARED = [
  'src/control/',
  'src/azure-devops/',
  'src/crypto/',
  'src/entra/',
  'src/http/',
  'src/db/',
  'src/config/',
  'src/logging/',
  'src/telemetry/',
  'src/version.ts',
];
export const BOUNDARIES = [
  {
    from: ['src/management/'],
    disallow: ['src/runner/'],
    because: 'the management plane reaches runners only through the control channel; shared types live in src/control/',
  },
  {
    from: ['src/runner/'],
    disallow: ['src/management/'],
    because: 'a runner reaches the management plane only through the control channel; shared types live in src/control/',
  },
  { from: SHARED, disallow: ['src/management/', 'src/runner/', 'src/cli/'], because: 'shared code belongs to neither plane' },
  {
    from: ['web/src/'],
    disallow: ['src/', 'emulator/', 'test/', 'bench/'],
    // The contract and pure, dependency-free helpers; anything else would pull server code into the bundle.
    allow: [
      'src/control/',
      'src/crypto/sealing.ts',
      'src/crypto/base64url.ts',
      'src/entra/issuer.ts',
      'src/azure-devops/url.ts',
      'src/management/audit/actions.ts',
    ],
    because: 'the web bundle takes only the contract (src/control/), sealing and a few pure helpers',
  },
  {
    from: ['emulator/'],
    disallow: ['src/', 'test/', 'bench/'],
    because: 'the emulator stands in for Entra ID and Azure DevOps and knows nothing of Keyway',
  },
  {
    from: ['src/'],
    disallow: ['emulator/', 'test/', 'bench/'],
    allow: ['emulator/cli.ts'],
    because:
      'Keyway reaches the emulator only through its command (emulator/cli.ts); tests use its hooks (emulator/index.ts, test-support.ts)',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'web/dist/', '.keyway-data/', 'test-results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    ignores: ['**/*.test.ts', '**/*.test.tsx'],
    plugins: { keyway: { rules: { boundaries } } },
    rules: { 'keyway/boundaries': ['error', BOUNDARIES] },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
