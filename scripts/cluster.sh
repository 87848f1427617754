# Throwaway PostgreSQL clusters for the demo and the tests. Source this file.
# initdb and postgres refuse to run as root, so as root the cluster belongs to
# the unprivileged `postgres` OS user (created by Debian's postgresql package).

# PG_MAJOR picks one of Debian's PostgreSQL packages (15 on Debian 12; the
# version matrix runs 17 and 18 in chroots); PG_BIN overrides it.
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
export PG_MAJOR PG_BIN PG_CONFIG

# Runs a command as the cluster's OS user.
as_cluster_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- env PATH="$PG_BIN:$PATH" "$@"
  else
    env PATH="$PG_BIN:$PATH" "$@"
  fi
}

# A fresh directory the cluster user can write.
make_cluster_dir() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/idempotency-$1-XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  echo "$dir"
}

# A TCP port nothing listens on.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# start_cluster DIR PORT [postgresql.conf lines...]
# Creates DIR/data, starts the server with its socket in DIR, and exports
# PGHOST/PGPORT/PGUSER so that psql and libpq clients reach it.
start_cluster() {
  local dir=$1 port=$2
  shift 2
  as_cluster_user initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
  {
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir'"
    echo "shared_preload_libraries = 'idempotency'"
    echo "max_connections = 100"
    echo "fsync = on"
    for line in "$@"; do echo "$line"; done
  } | as_cluster_user tee -a "$dir/data/postgresql.conf" >/dev/null
  as_cluster_user pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log"; return 1; }
  export PGHOST=$dir PGPORT=$port PGUSER=postgres
}

stop_cluster() {
  local dir=$1
  [ -d "$dir/data" ] && as_cluster_user pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1
  return 0
}
