import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';

/**
 * Architecture lives here as lint rules, so it holds without anyone
 * remembering it: imports point down (apps → client → crypto → protocol;
 * server → protocol), and protocol/crypto stay runnable in the browser.
 */
// A regex, not path patterns: a bare "crypto" pattern would also match "@parley/crypto".
const nodeBuiltins = '^(node:.*|fs|path|os|crypto|http|https|net|stream|child_process|buffer|util|url|worker_threads)$';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'Libraries never exit the process; throw instead.' }],
    },
  },
  {
    files: ['packages/protocol/**/*.ts', 'packages/crypto/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test/**'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: nodeBuiltins, message: 'protocol and crypto run in the browser too: no Node-only modules.' },
            { group: ['@parley/server', '@parley/client', '@parley/web', '**/server/**', '**/client/**'], message: 'Imports point down: protocol and crypto depend on nothing above them.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'Buffer', message: 'Use Uint8Array; Buffer does not exist in the browser.' }, { name: 'process', message: 'No process in the browser.' }],
    },
  },
  {
    files: ['packages/protocol/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: nodeBuiltins, message: 'protocol runs in the browser too: no Node-only modules.' },
            { group: ['@parley/*'], message: 'protocol is the bottom layer and imports no other Parley package.' },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/server/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@parley/client', '@parley/client/*', '@parley/web', '@parley/crypto', '@parley/crypto/*', '**/packages/client/**', '**/packages/crypto/**', '**/apps/**'], message: 'The server imports only @parley/protocol: never client code or private-key code.' },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/server/src/**/*.ts'],
    ignores: ['packages/server/src/context.ts', 'packages/server/src/index.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@parley/client', '@parley/client/*', '@parley/web', '@parley/crypto', '@parley/crypto/*', '**/packages/client/**', '**/packages/crypto/**', '**/apps/**'], message: 'The server imports only @parley/protocol: never client code or private-key code.' },
            { group: ['**/sqlite/*', '**/postgres/*', '**/memory/*', '**/nats/*', '**/fs/*', '!./*'], message: 'Adapters are chosen only in context.ts (the one wiring point); depend on the interface.' },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/server/src/storage/**/*.ts', 'packages/server/src/bus/**/*.ts', 'packages/server/src/blobs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@parley/client', '@parley/crypto', '**/apps/**'], message: 'The server imports only @parley/protocol.' }] },
      ],
    },
  },
  {
    // The client SDK runs in browsers too; Node-only parts live in these three files,
    // reached through the `@parley/client/node` entry point.
    files: ['packages/client/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'packages/client/src/node.ts', 'packages/client/src/store/sqlite-store.ts', 'packages/client/src/transport/node-websocket.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: nodeBuiltins, message: 'The client runs in the browser too: Node-only code goes in node.ts and its adapters.' },
            { group: ['better-sqlite3', 'ws'], message: 'Node-only dependencies belong in the Node adapters.' },
            { group: ['@parley/server', '@parley/server/*', '@parley/web', '**/packages/server/**', '**/apps/**'], message: 'Imports point down: the client never imports the server or the apps.' },
          ],
        },
      ],
    },
  },
  {
    // The web app is a browser app that talks only to the client SDK: no protocol
    // or crypto code of its own, no Node-only modules.
    files: ['apps/web/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: nodeBuiltins, message: 'The web app runs in the browser.' },
            { group: ['@parley/crypto', '@parley/crypto/*', '@parley/protocol', '@parley/protocol/*', '@parley/server', '@parley/server/*', '@parley/client/node', '**/packages/**'], message: 'The web app talks only to @parley/client.' },
          ],
        },
      ],
    },
  },
  { files: ['apps/web/sw/**/*.js'], languageOptions: { globals: { ...globals.serviceworker } } },
  // eslint's own config format requires a default export.
  { files: ['eslint.config.js', 'apps/web/vite.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
);
