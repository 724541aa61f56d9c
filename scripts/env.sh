# Sourced by the other scripts: puts the project's tools first on PATH.
# (.tools/ holds npm's binaryen; cargo-installed tools live in ~/.cargo/bin.)
_mw_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_mw_root/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# PostgreSQL's server tools (initdb, pg_ctl) when Debian keeps them off PATH.
if ! command -v initdb >/dev/null 2>&1; then
  for _mw_pg in /usr/lib/postgresql/*/bin; do
    [ -x "$_mw_pg/initdb" ] && PATH="$PATH:$_mw_pg"
  done
  unset _mw_pg
fi
# Trunk must never download a tool: a missing one is an error (Trunk.toml also says offline).
export TRUNK_SKIP_VERSION_CHECK=true
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
unset _mw_root
