# Sourced by .ci/run: makes sure a PostgreSQL server answers on
# 127.0.0.1:5432 with trust auth and a database "test", and exports
# FGWH_TEST_POSTGRES_URL for the tests that need it.
pg_answers() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432
}

start_postgres() {
  if ! pg_answers; then
    echo "== starting PostgreSQL"
    if ! command -v pg_lsclusters >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    ver=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    if [ -z "$ver" ]; then
      ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
      pg_createcluster "$ver" main >/dev/null
    fi
    conf=/etc/postgresql/$ver/main
    # Trust local TCP connections: this server exists only for the tests.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf/pg_hba.conf"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster --skip-systemctl-redirect "$ver" main restart
    for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
  fi
  user=postgres
  psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1 || user=root
  if ! psql -h 127.0.0.1 -U "$user" -d postgres -Atc "select 1 from pg_database where datname='test'" | grep -q 1; then
    psql -h 127.0.0.1 -U "$user" -d postgres -c 'create database test' >/dev/null
  fi
  export FGWH_TEST_POSTGRES_URL="postgres://$user@127.0.0.1:5432/test?sslmode=disable"
  echo "== PostgreSQL at $FGWH_TEST_POSTGRES_URL"
}
