#!/bin/sh
# bootstrap.sh: put a hash-pinned ecr-ci in a cached virtual environment and print the path of its `ecr-ci`.
#
# Usage: bootstrap.sh [--cache-dir DIR] [--from SOURCE]
#
#   --cache-dir DIR   where the environments live. Default: $ECR_CI_BOOTSTRAP_CACHE_DIR, else
#                     $RUNNER_TOOL_CACHE/ecr-ci when that is set (GitHub runners), else
#                     ${XDG_CACHE_HOME:-$HOME/.cache}/ecr-ci/bootstrap.
#   --from SOURCE     where ecr-ci itself comes from. Default: $ECR_CI_BOOTSTRAP_FROM, else the ecr-ci checkout
#                     holding this script when there is one, else `index`.
#                       DIR with pyproject.toml  an ecr-ci checkout (built into a wheel: its build backend comes
#                                                from the index)
#                       FILE.whl                 an ecr-ci wheel
#                       DIR                      a wheelhouse: wheels of every locked dependency and of ecr-ci,
#                                                installed with --no-index (air-gapped runners)
#                       index                    the package index, at the version this script pins
#   ECR_CI_BOOTSTRAP_PYTHON  the interpreter to build with (a name on PATH or a path). Default: the first of
#                     python3, python, python3.14 ... python3.10 on PATH that is Python 3.10 or newer.
#
# The locked dependencies (requirements.lock beside this script) are always installed with --require-hashes, then
# ecr-ci itself with --no-deps; with uv when it is on PATH, else with `python -m venv` and pip. The machine's own
# Python is never changed. An environment is keyed by the ecr-ci version, the lock's hash and the source kind (its
# directory name also carries the Python version it was built with); once complete it is reused by this script
# alone, without running Python, pip, uv or the network. Concurrent first runs are serialised by a lock; an
# environment is published (atomically) only once it is complete and `ecr-ci --version` has run in it.
#
# stdout: only the absolute path of the `ecr-ci` executable. Errors: one line on stderr and exit 1 (2: bad usage).
# This file mirrors bootstrap.ps1; the build itself is _build.py, shared by both.
set -eu

ECR_CI_VERSION=0.1.0

die() {
  printf 'ecr-ci bootstrap: %s\n' "$1" >&2
  exit "${2:-1}"
}

opt_cache=
opt_from=
while [ $# -gt 0 ]; do
  case $1 in
    --cache-dir) [ $# -ge 2 ] || die "--cache-dir needs a directory (usage: bootstrap.sh [--cache-dir DIR] [--from SOURCE])" 2
      opt_cache=$2; cache_name=--cache-dir; shift 2 ;;
    --cache-dir=*) opt_cache=${1#*=}; cache_name=--cache-dir; shift ;;
    --from) [ $# -ge 2 ] || die "--from needs a source: a checkout, a wheel, a wheelhouse directory or 'index'" 2
      opt_from=$2; from_name=--from; shift 2 ;;
    --from=*) opt_from=${1#*=}; from_name=--from; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (usage: bootstrap.sh [--cache-dir DIR] [--from SOURCE])" 2 ;;
  esac
done

# Where this script lives, as an absolute path (its lock and _build.py sit beside it).
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(CDPATH='' cd -- "$here" && pwd -P) || die "cannot find the directory holding $0"
lock=$here/requirements.lock
[ -f "$lock" ] || die "the lock $lock is missing: copy the whole bootstrap directory"

# absolute PATH: PATH made absolute against the current directory, without spawning anything.
absolute() {
  case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "${1#./}" ;; esac
}

if [ -n "$opt_cache" ]; then
  cache=$opt_cache
elif [ -n "${ECR_CI_BOOTSTRAP_CACHE_DIR:-}" ]; then
  cache=$ECR_CI_BOOTSTRAP_CACHE_DIR; cache_name=ECR_CI_BOOTSTRAP_CACHE_DIR
elif [ -n "${RUNNER_TOOL_CACHE:-}" ]; then
  cache=$RUNNER_TOOL_CACHE/ecr-ci; cache_name=RUNNER_TOOL_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
  cache=$XDG_CACHE_HOME/ecr-ci/bootstrap; cache_name=XDG_CACHE_HOME
elif [ -n "${HOME:-}" ]; then
  cache=$HOME/.cache/ecr-ci/bootstrap; cache_name=HOME
else
  die "no cache directory: pass --cache-dir DIR or set ECR_CI_BOOTSTRAP_CACHE_DIR (HOME is not set)" 2
fi
[ -n "$cache" ] || die "$cache_name is empty: name a cache directory" 2
cache=$(absolute "$cache")

if [ -n "$opt_from" ]; then
  src=$opt_from
elif [ -n "${ECR_CI_BOOTSTRAP_FROM:-}" ]; then
  src=$ECR_CI_BOOTSTRAP_FROM; from_name=ECR_CI_BOOTSTRAP_FROM
elif [ -f "${here%/*}/pyproject.toml" ] && [ -f "${here%/*}/ecr_ci/__init__.py" ]; then
  src=${here%/*}; from_name="the checkout holding bootstrap.sh"
else
  src=index; from_name="the default source"
fi
if [ "$src" = index ]; then
  kind=index
else
  src=$(absolute "$src")
  if [ -d "$src" ]; then
    if [ -f "$src/pyproject.toml" ]; then kind=checkout; else kind=wheelhouse; fi
  elif [ -f "$src" ]; then
    case $src in
      *.whl) kind=wheel ;;
      *) die "$from_name: '$src' is not a wheel (.whl), a directory or 'index'" 2 ;;
    esac
  else
    die "$from_name: '$src' does not exist (give an ecr-ci checkout, a wheel, a wheelhouse directory or 'index')" 2
  fi
fi

# SHA-256 of stdin, as hex (coreutils on Linux, shasum on macOS, openssl elsewhere).
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256
  else openssl dgst -sha256 -r; fi
}
# The first N hex digits of a digest (POSIX sh has no substring: strip the rest, then strip that from the whole).
hex_prefix() {
  sum=${1%%[!0-9a-f]*}
  rest=${sum#$2}
  printf '%s' "${sum%"$rest"}"
}

# The lock's hash, first 16 hex digits.
sum=$(sha256 <"$lock") || die "cannot hash $lock: no sha256sum, shasum or openssl on PATH"
key=ecr-ci-$ECR_CI_VERSION-$kind-$(hex_prefix "$sum" '????????????????')
if [ -n "${ECR_CI_BOOTSTRAP_PYTHON:-}" ]; then
  # An explicitly chosen interpreter gets environments of its own.
  sum=$(printf '%s' "$ECR_CI_BOOTSTRAP_PYTHON" | sha256)
  key=$key-python$(hex_prefix "$sum" '????????')
fi

# The hit: a published environment whose marker is there and whose interpreter still exists.
pointer=$cache/$key.env
if [ -f "$pointer" ] && IFS= read -r env <"$pointer" && [ -f "$env/.ecr-ci-complete" ] &&
  IFS= read -r base <"$env/.ecr-ci-complete" && [ -x "$base" ] && [ -x "$env/bin/ecr-ci" ]; then
  printf '%s\n' "$env/bin/ecr-ci"
  exit 0
fi

# A miss: find a Python 3.10+ (the probe is valid Python 2 too, so an old interpreter answers instead of failing).
probe="import sys; sys.stdout.write('%d.%d %s\\n' % (sys.version_info[0], sys.version_info[1], sys.executable))"
if [ -n "${ECR_CI_BOOTSTRAP_PYTHON:-}" ]; then
  candidates=$ECR_CI_BOOTSTRAP_PYTHON; python_name=ECR_CI_BOOTSTRAP_PYTHON
else
  candidates="python3 python python3.14 python3.13 python3.12 python3.11 python3.10"; python_name=PATH
fi
python=
found=
for name in $candidates; do
  path=$(command -v "$name" 2>/dev/null) || continue
  case $path in /*) ;; *) continue ;; esac # an alias or function, not a program
  if ! out=$("$path" -S -E -c "$probe" 2>/dev/null) || [ -z "$out" ]; then
    found="$found, $name ($path) does not run"
    continue
  fi
  ver=${out%% *}
  major=${ver%%.*}
  minor=${ver#*.}
  if [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 10 ]; }; then
    python=${out#* }
    break
  fi
  found="$found, $name is $ver ($path)"
done
if [ -z "$python" ]; then
  if [ -z "$found" ]; then
    found=", none of: $candidates"
  fi
  if [ "$python_name" = PATH ]; then
    die "needs Python 3.10 or newer on PATH (found${found#,}); install one or set ECR_CI_BOOTSTRAP_PYTHON to its path"
  fi
  die "ECR_CI_BOOTSTRAP_PYTHON: needs Python 3.10 or newer (found${found#,})"
fi

exec "$python" -E -s "$here/_build.py" "--cache-dir=$cache" "--cache-name=$cache_name" "--kind=$kind" \
  "--source=$src" "--source-name=$from_name" "--key=$key" "--lock=$lock" "--version=$ECR_CI_VERSION"
