// Configuration posture (R-SEC-1, R-EVD-1): every file in the secrets directory is a regular file of mode 0444 in a
// 0700 directory, all owned by the installation's user (the owner of the home). A FAIL names the file and its mode.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckDefinition } from '../check.js';
import { SECRET_FILE_MODE, SECRETS_DIR_MODE } from '../../home/secret-files.js';
import { verdict } from './support.js';

export type PathKind = 'file' | 'directory' | 'symlink' | 'other' | 'missing';

export interface PathFacts {
  path: string;
  kind: PathKind;
  /** Permission bits in octal (`0444`), or null when the path is missing. */
  mode: string | null;
  uid: number | null;
}

export const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** What lstat says about `path`: a symlink is reported as one, never followed. */
export function factsOf(path: string): PathFacts {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return { path, kind: 'missing', mode: null, uid: null };
  const kind: PathKind = st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  return { path, kind, mode: octal(st.mode), uid: st.uid };
}

/** Why `facts` is not a `kind` of exactly `mode` owned by `uid`, naming it by `label`; undefined when it is. */
export function modeProblem(label: string, facts: PathFacts, want: { kind: 'file' | 'directory'; mode: number; uid: number | null }): string | undefined {
  if (facts.kind === 'missing') return `${label} is missing`;
  if (facts.kind !== want.kind) return `${label} is a ${facts.kind}, not a regular ${want.kind}`;
  if (facts.mode !== octal(want.mode)) return `${label} is mode ${facts.mode}, not ${octal(want.mode)}`;
  if (want.uid !== null && facts.uid !== want.uid) return `${label} is owned by uid ${facts.uid}, not the installation's uid ${want.uid}`;
  return undefined;
}

/** The uid that owns the installation: whoever owns the home directory `caracal init` created. */
export const installationUid = (homeRoot: string) => factsOf(homeRoot).uid;

/** The secrets directory and every entry in it, in name order. */
export function secretsListing(dir: string): { dir: PathFacts; files: PathFacts[] } {
  const facts = factsOf(dir);
  const names = facts.kind === 'directory' ? readdirSync(dir).sort() : [];
  return { dir: facts, files: names.map((n) => factsOf(join(dir, n))) };
}

export const configSecretFiles: CheckDefinition = {
  id: 'config-secret-files',
  pillar: 'Configuration',
  title: 'Secret files are 0444 in a 0700 directory',
  what: 'Every file in the secrets directory is a regular file (not a symlink) of mode 0444 and the directory is 0700, all owned by the installation user: only that user reaches the secrets, and no process can rewrite one in place.',
  controls: ['R1', 'R8', 'SOC2-CC6', 'NIST-MEASURE'],
  command: 'lstat <CARACAL_HOME>/secrets and every entry in it',
  run: async (ctx) => {
    const uid = installationUid(ctx.home.root);
    const { dir, files } = secretsListing(ctx.home.secretsDir);
    const problems = [
      modeProblem(`directory ${dir.path}`, dir, { kind: 'directory', mode: SECRETS_DIR_MODE, uid }),
      ...files.map((f) => modeProblem(f.path, f, { kind: 'file', mode: SECRET_FILE_MODE, uid })),
    ].filter((p): p is string => p !== undefined);
    if (files.length === 0 && dir.kind === 'directory') problems.push(`${dir.path} holds no secret file: run \`caracal init\``);
    const raw = [{ name: 'secret-files.json', command: `lstat ${ctx.home.secretsDir} and each of its ${files.length} entries`, output: { installation_uid: uid, directory: dir, files } }];
    return verdict(problems, `${files.length} secret files are regular files of mode 0444 in ${dir.path} (mode 0700), owned by uid ${uid}`, raw);
  },
};
