// The in-toto Statement v1 with an SLSA Provenance v1 predicate: subjects are the archive digests; the build
// definition names the source commit, the dirty flag, the lockfile digest and the Node version (slsa.dev/provenance/v1).
import { BUILD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE } from '../../apps/runtime/dist/release/format.js';

export const BUILDER_ID = 'https://caracal.dev/release/builder/scripts-release/v1';

export function buildStatement({ version, gitSha, dirty, buildTime, lockSha256, subjects }) {
  return {
    _type: STATEMENT_TYPE,
    subject: subjects.map(({ name, sha256 }) => ({ name, digest: { sha256 } })),
    predicateType: PREDICATE_TYPE,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: { version, source: { gitCommit: gitSha, dirty } },
        internalParameters: { nodeVersion: process.versions.node, lockfileSha256: lockSha256 },
        resolvedDependencies: [
          { uri: 'git+source', digest: { gitCommit: gitSha } },
          { uri: 'file:pnpm-lock.yaml', digest: { sha256: lockSha256 } },
        ],
      },
      // Build time is the commit time: it keeps every byte the build decides a function of the commit.
      runDetails: { builder: { id: BUILDER_ID }, metadata: { startedOn: buildTime, finishedOn: buildTime } },
    },
  };
}
