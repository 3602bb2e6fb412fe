// Lint rules: a file-size cap and the import boundaries of the workspace (STYLE 1 and 7).
import tseslint from 'typescript-eslint';

const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];

const serviceBoundaries = SERVICES.map((svc) => ({
  files: [`services/${svc}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: [...SERVICES.filter((o) => o !== svc).flatMap((o) => [`@caracal/${o}`, `**/services/${o}/**`]), '@caracal/runtime', '**/apps/**'],
            message: 'services never import each other or the CLI; share code through packages/*',
          },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'bench/out/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...serviceBoundaries,
  {
    files: ['packages/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...SERVICES.map((s) => `@caracal/${s}`), '@caracal/runtime', '**/services/**', '**/apps/**'],
              message: 'packages never import apps or services',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts', 'test-support/**/*.ts', 'bench/**'],
    // Tests read arbitrary JSON bodies; `any` there is the honest type.
    rules: { 'max-lines': ['error', { max: 500, skipBlankLines: true, skipComments: true }], '@typescript-eslint/no-explicit-any': 'off' },
  },
);
