# Start a disposable PostgreSQL server on 127.0.0.1 for the tests and export its DSN parts.
# Sourced by .ci/run; usable by hand: `source .ci/postgres.sh && start_test_postgres`.
start_test_postgres() {
  local bindir datadir port=${TRIAL_PG_PORT:-54329}
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  datadir=$(mktemp -d /tmp/trial-activation-pg.XXXXXX)
  chown postgres "$datadir"
  runuser -u postgres -- "$bindir/initdb" -D "$datadir" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$bindir/pg_ctl" -D "$datadir" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" \
    -l "$datadir/server.log" -w start >/dev/null
  export TRIAL_PG_HOST=127.0.0.1 TRIAL_PG_PORT=$port TRIAL_PG_USER=postgres TRIAL_PG_DATABASE=postgres
  echo "test PostgreSQL running on 127.0.0.1:$port (data in $datadir)"
}
