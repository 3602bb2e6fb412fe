#!/bin/sh
# Install a Caracal release for the current user, offline (R-REL-3). The whole script is the function `main`,
# called on the last line, so a download cut short runs nothing.
#
# Order of trust: the signature over SHA256SUMS is checked with the pinned public key, then the archive's
# checksum, then its entry list, all in a private temporary directory; only then is anything written under the
# prefix. The new version is unpacked into a staging directory beside its final place, renamed into place, and
# `bin/caracal` is switched with one rename, so an interrupted install leaves the previous version working.

main() {
  install_main() {
    set -eu
    umask 022

    PINNED_KEY='-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHswhBkdV5kyo5/uCcj2RUNnh61jv
W+FtGBbHXNSw/lcQ/lH/pl9Qc+qD0CXjwxs8Wx1nZtLNRtN79FiBDbnv/w==
-----END PUBLIC KEY-----'
    RECEIPT_NAME=INSTALL-RECEIPT

    from=''
    prefix="${HOME:-}/.local"
    want_version=''
    key_file=''
    uninstall=0
    while [ $# -gt 0 ]; do
      case "$1" in
        --from) [ $# -ge 2 ] || usage_error '--from needs DIR or ARCHIVE'; from=$2; shift 2 ;;
        --from=*) from=${1#--from=}; shift ;;
        --prefix) [ $# -ge 2 ] || usage_error '--prefix needs a directory'; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --version) [ $# -ge 2 ] || usage_error '--version needs a version'; want_version=$2; shift 2 ;;
        --version=*) want_version=${1#--version=}; shift ;;
        --key) [ $# -ge 2 ] || usage_error '--key needs a public key file'; key_file=$2; shift 2 ;;
        --key=*) key_file=${1#--key=}; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) usage; return 0 ;;
        *) usage_error "unknown argument: $1" ;;
      esac
    done
    [ -n "$prefix" ] || usage_error '--prefix is empty and HOME is not set'
    # A version becomes a directory name under the prefix: only a plain semantic version is accepted.
    [ -z "$want_version" ] || is_version "$want_version" || usage_error "--version $want_version is not a version (like 1.2.3)"
    case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
    lib="$prefix/lib/caracal"
    bin="$prefix/bin"

    if [ "$uninstall" = 1 ]; then
      do_uninstall
      return 0
    fi
    [ -n "$from" ] || usage_error '--from is required: this installer works offline from a downloaded release (DIR or its caracal-<version>.tar.gz)'
    do_install
  }

  usage() {
    cat <<'EOF'
usage: install.sh --from DIR|ARCHIVE [--prefix DIR] [--version V] [--key PUB]
       install.sh --uninstall [--prefix DIR] [--version V]

Installs a Caracal release for the current user. Nothing is fetched: --from names a release directory (or the
caracal-<version>.tar.gz inside one). The signature over SHA256SUMS is checked with the pinned release key
(needs openssl), then the archive checksum, before anything is unpacked.

  --from DIR|ARCHIVE  the release to install
  --prefix DIR        where to install (default ~/.local): DIR/lib/caracal/<version>, DIR/bin/caracal
  --version V         install (or uninstall) exactly this version; refuse a release of another
  --key PUB           trust this P-256 public key (PEM) instead of the pinned one
  --uninstall         remove exactly the files the install receipt lists
  -h, --help          this text

Exit codes: 0 installed/removed, 1 failure (nothing changed), 2 usage error
EOF
  }

  is_version() {
    printf '%s\n' "$1" | grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?'
  }

  usage_error() { printf 'install.sh: %s (see --help)\n' "$1" >&2; exit 2; }
  die() { printf 'install.sh: %s\n' "$1" >&2; exit 1; }
  say() { printf '%s\n' "$1" >&2; }

  need() {
    for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || die "$tool is required but not on PATH"; done
  }

  sha256_of() { sha256sum "$1" | cut -d ' ' -f 1; }

  # Node >= 20.19: the release runs on it and nothing else (package.json engines).
  check_node() {
    command -v node >/dev/null 2>&1 || die 'node (>= 20.19) is required but not on PATH'
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
      die "node $(node --version) is too old: Caracal needs >= 20.19"
  }

  do_install() {
    need openssl tar gzip sha256sum awk mktemp
    check_node
    if [ -d "$from" ]; then src=$from; elif [ -f "$from" ]; then src=$(dirname -- "$from"); else die "--from $from: no such directory or archive"; fi

    work=$(mktemp -d "${TMPDIR:-/tmp}/caracal-install.XXXXXX")
    staging=''
    moved=0
    trap 'rollback' EXIT
    trap 'exit 1' INT TERM HUP

    # 1. Copy what is checked, so the files checked are the files used.
    for f in SHA256SUMS SHA256SUMS.sig; do
      [ -f "$src/$f" ] || die "$src/$f is missing: not a signed Caracal release"
      cp -- "$src/$f" "$work/$f"
    done
    [ "$(wc -c <"$work/SHA256SUMS")" -le 65536 ] || die "$src/SHA256SUMS is too large to be a release's"
    if [ -n "$key_file" ]; then cp -- "$key_file" "$work/key.pub" || die "--key $key_file cannot be read"; else printf '%s\n' "$PINNED_KEY" >"$work/key.pub"; fi
    openssl pkey -pubin -in "$work/key.pub" -noout 2>/dev/null || die "--key $key_file is not a PEM public key"

    # 2. The signature over SHA256SUMS, with the pinned key.
    openssl dgst -sha256 -verify "$work/key.pub" -signature "$work/SHA256SUMS.sig" "$work/SHA256SUMS" >/dev/null 2>&1 ||
      die "$src/SHA256SUMS.sig: bad signature over SHA256SUMS (not signed by the trusted release key); nothing installed"

    # 3. Exactly one archive line, then its checksum.
    line=$(grep -E '^[0-9a-f]{64}  caracal-[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?\.tar\.gz$' "$work/SHA256SUMS" || true)
    [ -n "$line" ] && [ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] || die "$src/SHA256SUMS lists no single caracal-<version>.tar.gz"
    digest=${line%%  *}
    archive=${line#*  }
    version=${archive#caracal-}
    version=${version%.tar.gz}
    is_version "$version" || die "$src/SHA256SUMS names an archive without a plain version: $archive"
    [ -z "$want_version" ] || [ "$want_version" = "$version" ] || die "--version $want_version asked for, but $src holds $version"
    [ -f "$src/$archive" ] || die "$src/$archive is missing"
    cp -- "$src/$archive" "$work/$archive"
    [ "$(sha256_of "$work/$archive")" = "$digest" ] || die "$src/$archive: checksum mismatch with SHA256SUMS; nothing installed"

    # 4. The entry list: readable to the end (a truncated archive fails here), every entry under caracal-<version>/,
    #    no absolute path or "..", and every symlink resolving inside the tree.
    tar -tvzf "$work/$archive" >"$work/list" 2>"$work/tar-err" || die "$src/$archive: not a readable gzip tar (truncated?): $(head -c 200 "$work/tar-err")"
    bad=$(check_entries "caracal-$version" <"$work/list")
    [ -z "$bad" ] || die "$src/$archive: refused entry $bad"

    # 5. Only now touch the prefix.
    mkdir -p "$lib" "$bin" 2>/dev/null || die "--prefix $prefix is not writable"
    [ -w "$lib" ] && [ -w "$bin" ] || die "--prefix $prefix is not writable"
    dest="$lib/$version"
    # Leftovers of an install killed earlier (no trap runs on SIGKILL) are never used: remove them, also when that
    # install got as far as renaming its directory into place and only the empty staging directory is left.
    rm -rf -- "$lib"/.staging-*
    if [ -f "$dest/$RECEIPT_NAME" ] && grep -qx "# archive-sha256 $digest" "$dest/$RECEIPT_NAME"; then
      switch_bin
      trap - EXIT
      rm -rf "$work"
      say "caracal $version is already installed in $dest (unchanged); bin/caracal points at it"
      warn_path
      return 0
    fi
    [ ! -e "$dest" ] || die "caracal $version is already installed in $dest from a different archive; run --uninstall --version $version first"
    staging=$(mktemp -d "$lib/.staging-$version.XXXXXX")
    tar -xzf "$work/$archive" -C "$staging" --no-same-owner
    [ "$(node "$staging/caracal-$version/apps/runtime/bin/caracal.js" --version 2>/dev/null)" = "$version" ] ||
      die "the unpacked caracal $version does not run with $(node --version)"
    write_receipt "$staging/caracal-$version"

    # 6. Into place: the directory by one rename, then bin/caracal by another; until the second, the previous
    #    version is what bin/caracal runs.
    mv -- "$staging/caracal-$version" "$dest"
    moved=1
    rmdir -- "$staging"
    staging=''
    switch_bin
    trap - EXIT
    rm -rf "$work"
    say "installed caracal $version into $dest"
    say "receipt: $dest/$RECEIPT_NAME"
    warn_path
  }

  # Undo whatever step 5/6 had done when the install stops early (error or signal).
  rollback() {
    status=$?
    # The new directory is only kept once bin/caracal points at it.
    [ "${moved:-0}" = 0 ] || [ "$status" = 0 ] || rm -rf -- "$dest"
    [ -z "${staging:-}" ] || rm -rf -- "$staging"
    rm -rf -- "$work"
    [ "$status" = 0 ] || say 'install.sh: nothing was changed; the previous installation (if any) is untouched'
    exit "$status"
  }

  switch_bin() {
    target="../lib/caracal/$version/apps/runtime/bin/caracal.js"
    if [ -e "$bin/caracal" ] && [ ! -L "$bin/caracal" ]; then die "$bin/caracal exists and is not a link this installer made; move it away first"; fi
    ln -s "$target" "$bin/.caracal.$$"
    mv -f -- "$bin/.caracal.$$" "$bin/caracal"
  }

  # "<type><perm> <owner> <size> <date> <time> <path>[ -> <target>]" lines from `tar -tv` (GNU tar).
  # Prints the first bad path, if any.
  check_entries() {
    awk -v top="$1" '
      function norm(p,   n, parts, out, i, k) {
        n = split(p, parts, "/"); k = 0
        for (i = 1; i <= n; i++) {
          if (parts[i] == "" || parts[i] == ".") continue
          if (parts[i] == "..") { if (k == 0) return "/.."; k--; continue }
          out[++k] = parts[i]
        }
        p = ""; for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
        return p
      }
      {
        # The path is everything after the five metadata fields (it may hold spaces); a link adds " -> target".
        type = substr($1, 1, 1); path = $0; sub(/^[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ /, "", path); link = ""
        if (type == "l") { link = path; sub(/ -> .*$/, "", path); sub(/^.* -> /, "", link) }
        if (path !~ ("^" top "(/|$)") || path ~ /(^|\/)\.\.(\/|$)/) { print path; exit }
        if (type == "l") {
          dir = path; sub(/\/[^\/]*$/, "", dir)
          resolved = norm(dir "/" link)
          if (link ~ /^\// || resolved == "/.." || resolved !~ ("^" top "(/|$)")) { print path " -> " link " (points outside the release)"; exit }
        } else if (type == "h") { print path " (hard link)"; exit }
        else if (type != "-" && type != "d") { print path " (special file)"; exit }
      }'
  }

  # Every file and link the install creates, with its digest: what --uninstall removes and nothing else.
  write_receipt() {
    root=$1
    {
      printf '# caracal %s\n# archive-sha256 %s\n' "$version" "$digest"
      printf 'link  bin/caracal\n'
      (cd "$root" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sed "s|  \\./|  lib/caracal/$version/|"
      (cd "$root" && find . -type l -print | LC_ALL=C sort) | sed "s|^\\./|link  lib/caracal/$version/|"
      printf 'self  lib/caracal/%s/%s\n' "$version" "$RECEIPT_NAME"
    } >"$work/receipt"
    mv -- "$work/receipt" "$root/$RECEIPT_NAME"
  }

  do_uninstall() {
    if [ -n "$want_version" ]; then version=$want_version
    elif [ -L "$bin/caracal" ]; then version=$(readlink "$bin/caracal" | sed -n 's|^\.\./lib/caracal/\([^/]*\)/.*|\1|p')
    else version=''
    fi
    [ -n "$version" ] && is_version "$version" || die "no Caracal installation found under $prefix (bin/caracal is not an installer link)"
    receipt="$lib/$version/$RECEIPT_NAME"
    [ -f "$receipt" ] || die "$receipt is missing: nothing to uninstall for caracal $version under $prefix"
    # Files and links first, exactly those listed (every path checked before any is removed); then the
    # directories they leave empty.
    list="${TMPDIR:-/tmp}/caracal-uninstall.$$"
    grep -v '^#' "$receipt" | sed 's/^[^ ]*  //' >"$list"
    bad=$(awk -v v="$version" '$0 != "bin/caracal" && (index($0, "lib/caracal/" v "/") != 1 || $0 ~ /(^|\/)\.\.(\/|$)/) { print; exit }' "$list")
    [ -z "$bad" ] || { rm -f -- "$list"; die "$receipt lists $bad, outside this installation"; }
    if [ "$(readlink "$bin/caracal" 2>/dev/null || true)" = "../lib/caracal/$version/apps/runtime/bin/caracal.js" ]; then rm -f -- "$bin/caracal"; fi
    grep -v '^bin/caracal$' "$list" | (cd "$prefix" && tr '\n' '\0' | xargs -0 rm -f --)
    rm -f -- "$list"
    # Deepest first; a directory still holding files the receipt does not list stays.
    [ ! -d "$lib/$version" ] || find "$lib/$version" -depth -type d -exec rmdir {} + 2>/dev/null || true
    for d in "$lib" "$prefix/lib" "$bin"; do rmdir "$d" 2>/dev/null || true; done
    if [ -d "$lib/$version" ]; then say "caracal $version removed; files not listed in its receipt were left in $lib/$version"
    else say "caracal $version removed from $prefix"; fi
  }

  warn_path() {
    case ":${PATH:-}:" in *":$bin:"*) ;; *) say "warning: $bin is not on PATH; add it, or run $bin/caracal" ;; esac
  }


  install_main "$@"
}

main "$@"
