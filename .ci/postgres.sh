# Start a disposable PostgreSQL server on 127.0.0.1 for the tests and export its connection variables.
# Sourced by .ci/run; usable by hand: `source .ci/postgres.sh && start_test_postgres`.
start_test_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  TRIAL_PG_DATADIR=$(mktemp -d /tmp/trial-activation-pg.XXXXXX)
  # A free port unless one is asked for, so a server already running here does not get in the way.
  TRIAL_PG_PORT=${TRIAL_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  chown postgres "$TRIAL_PG_DATADIR"
  # Password authentication over TCP, as a real server has (the tests check that a wrong password is
  # refused in one line and the password is never printed); the local socket trusts, for pg_ctl.
  TRIAL_PG_PASSWORD=${TRIAL_PG_PASSWORD:-$(python3 -c 'import secrets; print(secrets.token_hex(12))')}
  (umask 077 && printf '%s\n' "$TRIAL_PG_PASSWORD" >"$TRIAL_PG_DATADIR.pw")
  chown postgres "$TRIAL_PG_DATADIR.pw"
  runuser -u postgres -- "$bindir/initdb" -D "$TRIAL_PG_DATADIR" --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$TRIAL_PG_DATADIR.pw" -U postgres >/dev/null
  rm -f "$TRIAL_PG_DATADIR.pw"
  runuser -u postgres -- "$bindir/pg_ctl" -D "$TRIAL_PG_DATADIR" -l "$TRIAL_PG_DATADIR/server.log" -w \
    -o "-p $TRIAL_PG_PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
  export TRIAL_PG_HOST=127.0.0.1 TRIAL_PG_PORT TRIAL_PG_USER=postgres TRIAL_PG_PASSWORD TRIAL_PG_DATABASE=postgres TRIAL_PG_DATADIR
  echo "test PostgreSQL running on 127.0.0.1:$TRIAL_PG_PORT (data in $TRIAL_PG_DATADIR)"
}

stop_test_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  runuser -u postgres -- "$bindir/pg_ctl" -D "$TRIAL_PG_DATADIR" -m fast stop >/dev/null && rm -rf "$TRIAL_PG_DATADIR"
}
