#!/usr/bin/env bash
# joltdb against PostgreSQL 15 with pgbench, side by side in one run.
#
# Starts a scratch PostgreSQL 15 (initdb in a temporary directory, a free
# port, default durability: fsync and synchronous_commit on) and a release
# joltdb (default durability: every COMMIT is fsynced), then runs the same
# pgbench workloads against each, alternating which goes first, for several
# rounds. Prints a table of medians with the joltdb/PostgreSQL ratio and
# writes it as JSON. There are no pass/fail thresholds: machines are noisy.
#
#   bench/run.sh                      # 3 rounds, 20 s per workload
#   bench/run.sh --duration 60 --rounds 5 --out results.json
#
# Needs pgbench and the PostgreSQL 15 server (postgresql-15); as root,
# PostgreSQL runs as the `postgres` user.
set -euo pipefail

ROUNDS=3
DURATION=20
SCALE=10
RSS_SCALES="10 50"
OUT=bench/results.json
BUILD=1
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

usage() {
    cat <<EOF
usage: bench/run.sh [options]
  --rounds N         rounds of every workload (default $ROUNDS)
  --duration SECS    seconds per workload per round and server (default $DURATION)
  --scale N          pgbench scale of the workloads (default $SCALE)
  --rss-scales LIST  scales to measure server memory after loading (default "$RSS_SCALES"; "" skips)
  --out FILE         JSON results (default $OUT)
  --no-build         use the joltdb binary already built
Environment: PG_BIN (default /usr/lib/postgresql/15/bin), CARGO_TARGET_DIR.
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        --rss-scales) RSS_SCALES=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
if [ "$BUILD" = 1 ]; then
    cargo build --release -p joltdb-server >&2
fi
JOLTDB=$TARGET/release/joltdb
[ -x "$JOLTDB" ] || { echo "no joltdb binary at $JOLTDB (drop --no-build)" >&2; exit 1; }
[ -x "$PG_BIN/postgres" ] || { echo "PostgreSQL 15 not found in $PG_BIN" >&2; exit 1; }
command -v pgbench >/dev/null || { echo "pgbench not found" >&2; exit 1; }

WORK=$(mktemp -d /tmp/joltdb-bench.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/bench.log
JOLT_PID=
PG_DATA=

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

stop_joltdb() {
    if [ -n "$JOLT_PID" ]; then
        kill -TERM "$JOLT_PID" 2>/dev/null || true
        wait "$JOLT_PID" 2>/dev/null || true
        JOLT_PID=
    fi
}

stop_postgres() {
    if [ -n "$PG_DATA" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >>"$LOG" 2>&1 || true
        PG_DATA=
    fi
}

cleanup() {
    stop_joltdb
    stop_postgres
    if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_postgres NAME: a new cluster in $WORK/NAME; sets PG_PORT, PG_DATA.
start_postgres() {
    local dir=$WORK/$1
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    PG_DATA=$dir/data
    PG_PORT=$(free_port)
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C >>"$LOG" 2>&1
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$dir/postgres.log" \
        -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1" start >>"$LOG" 2>&1
}

# start_joltdb NAME: a new data directory in $WORK/NAME; sets JOLT_PORT, JOLT_PID.
start_joltdb() {
    local dir=$WORK/$1
    mkdir -p "$dir"
    printf 'host all all 127.0.0.1/32 trust\n' >"$dir/hba.conf"
    JOLT_PORT=$(free_port)
    JOLTDB_PASSWORD=bench "$JOLTDB" --listen "127.0.0.1:$JOLT_PORT" --data-dir "$dir/data" \
        --hba "$dir/hba.conf" --log-level warn >"$dir/joltdb.log" 2>&1 &
    JOLT_PID=$!
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$JOLT_PORT") 2>/dev/null; then return; fi
        kill -0 "$JOLT_PID" 2>/dev/null || { cat "$dir/joltdb.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "joltdb did not start" >&2
    exit 1
}

conn() {
    case "$1" in
        joltdb) echo "-h 127.0.0.1 -p $JOLT_PORT -U joltdb joltdb" ;;
        postgres) echo "-h 127.0.0.1 -p $PG_PORT -U postgres postgres" ;;
    esac
}

# Every measurement is one line "metric server value" in $SAMPLES.
SAMPLES=$WORK/samples
: >"$SAMPLES"
record() { echo "$1 $2 $3" >>"$SAMPLES"; }

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# load SERVER SCALE: pgbench -i, timed.
load() {
    local start end
    start=$(now)
    # shellcheck disable=SC2046
    pgbench -i -q -s "$2" $(conn "$1") >>"$LOG" 2>&1 || { echo "pgbench -i failed on $1 (see log)" >&2; tail -20 "$LOG" >&2; exit 1; }
    end=$(now)
    calc "$end - $start"
}

UPDATE_SCRIPT=$WORK/update.sql
cat >"$UPDATE_SCRIPT" <<'EOF'
\set aid random(1, 100000 * :scale)
\set delta random(-5000, 5000)
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
EOF

# run_tps METRIC SERVER pgbench-args...: one pgbench run, its tps recorded.
run_tps() {
    local metric=$1 server=$2 out tps
    shift 2
    # shellcheck disable=SC2046
    out=$(pgbench "$@" -T "$DURATION" $(conn "$server") 2>&1) || { echo "$out" >>"$LOG"; echo "pgbench $* failed on $server" >&2; echo "$out" | tail -5 >&2; exit 1; }
    echo "== $metric $server" >>"$LOG"
    echo "$out" >>"$LOG"
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
    record "$metric" "$server" "$tps"
    printf '  %-22s %-9s %10.0f tps%s\n' "$metric" "$server" "$tps" \
        "$([ "${failed:-0}" != 0 ] && echo " ($failed failed)")" >&2
}

# run_latency METRIC SERVER pgbench-args...: one client, per-transaction
# log; p50 and p99 in milliseconds recorded.
run_latency() {
    local metric=$1 server=$2 dir p50 p99
    shift 2
    dir=$WORK/latlog.$metric.$server
    mkdir -p "$dir"
    # shellcheck disable=SC2046
    (cd "$dir" && pgbench "$@" -c 1 -T "$DURATION" -l --log-prefix=tx $(conn "$server") >>"$LOG" 2>&1) \
        || { echo "pgbench $* failed on $server" >&2; exit 1; }
    read -r p50 p99 < <(cat "$dir"/tx* | awk '{print $3}' | sort -n | awk '
        { v[NR] = $1 }
        END { i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1;
              printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
    rm -rf "$dir"
    record "$metric.p50_ms" "$server" "$p50"
    record "$metric.p99_ms" "$server" "$p99"
    printf '  %-22s %-9s p50 %.3f ms  p99 %.3f ms\n' "$metric" "$server" "$p50" "$p99" >&2
}

# Memory of a server's processes in KiB: joltdb's peak (VmHWM) or current
# (VmRSS) resident set; PostgreSQL's summed proportional set size (shared
# buffers counted once) over all its processes.
joltdb_rss_kib() { awk -v f="$1" '$1 == f ":" {print $2}' "/proc/$JOLT_PID/status"; }
postgres_pss_kib() {
    local pid total=0 pss
    for pid in $(pgrep -d' ' -u postgres -f "postgres" || true); do
        # Only processes of this cluster: children of its postmaster.
        if [ "$pid" = "$PG_PM" ] || [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = "$PG_PM" ]; then
            pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
            total=$((total + ${pss:-0}))
        fi
    done
    echo "$total"
}

echo "joltdb bench: $ROUNDS rounds x ${DURATION}s per workload, scale $SCALE; work dir $WORK" >&2
start_postgres pg
start_joltdb jolt
PG_PM=$(head -1 "$PG_DATA/postmaster.pid")

SERVERS_A="joltdb postgres"
SERVERS_B="postgres joltdb"
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order=$SERVERS_A; else order=$SERVERS_B; fi
    echo "round $round ($order)" >&2
    for s in $order; do
        t=$(load "$s" "$SCALE")
        record load_s "$s" "$t"
        printf '  %-22s %-9s %10.2f s\n' "pgbench -i -s $SCALE" "$s" "$t" >&2
    done
    for s in $order; do run_tps tpcb_c8 "$s" -M prepared -c 8 -j 2; done
    for s in $order; do run_tps tpcb_c32 "$s" -M prepared -c 32 -j 2; done
    for s in $order; do run_tps select_prepared_c8 "$s" -S -M prepared -c 8 -j 2; done
    for s in $order; do run_tps select_simple_c8 "$s" -S -M simple -c 8 -j 2; done
    for s in $order; do run_tps update_c8 "$s" -f "$UPDATE_SCRIPT" -M prepared -c 8 -j 2; done
    for s in $order; do run_latency tpcb_c1 "$s" -M prepared; done
    for s in $order; do run_latency select_c1 "$s" -S -M prepared; done
done

stop_joltdb
stop_postgres

# Memory after loading each scale into fresh servers. Raw row bytes count
# pgbench's column widths: an account or teller row is 4+4+4+84 bytes, a
# branch row 4+4+88.
for scale in $RSS_SCALES; do
    raw=$(( scale * (100000 * 96 + 10 * 96 + 96) ))
    record "rss_s$scale.raw_mb" joltdb "$(calc "$raw / 1000000")"
    record "rss_s$scale.raw_mb" postgres "$(calc "$raw / 1000000")"
    start_joltdb "rss-jolt-$scale"
    load joltdb "$scale" >/dev/null
    kib=$(joltdb_rss_kib VmHWM)
    record "rss_s$scale.mb" joltdb "$(calc "$kib * 1024 / 1000000")"
    kib=$(joltdb_rss_kib VmRSS)
    record "rss_s$scale.now_mb" joltdb "$(calc "$kib * 1024 / 1000000")"
    stop_joltdb
    start_postgres "rss-pg-$scale"
    PG_PM=$(head -1 "$PG_DATA/postmaster.pid")
    load postgres "$scale" >/dev/null
    kib=$(postgres_pss_kib)
    record "rss_s$scale.mb" postgres "$(calc "$kib * 1024 / 1000000")"
    # shellcheck disable=SC2046
    db=$(psql -X -At $(conn postgres | sed 's/ postgres$/ -d postgres/') -c "select pg_database_size('postgres')")
    record "rss_s$scale.disk_mb" postgres "$(calc "$db / 1000000")"
    stop_postgres
    echo "  memory after loading scale $scale measured" >&2
done

# Medians per metric and server, then the table and the JSON.
HOST="$(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$(dirname "$OUT")"
sort -k1,1 -k2,2 -k3,3g "$SAMPLES" >"$SAMPLES.sorted"
awk -v date="$DATE" -v host="$HOST" -v rounds="$ROUNDS" \
    -v duration="$DURATION" -v scale="$SCALE" -v out="$OUT" '
    function median(key,   n, m) {
        n = count[key]
        if (n == 0) return ""
        m = int((n + 1) / 2)
        if (n % 2 == 1) return val[key, m]
        return (val[key, n / 2] + val[key, n / 2 + 1]) / 2
    }
    NR == FNR { if (!($1 in seen)) { seen[$1] = 1; order[++nm] = $1 }; next }
    {
        key = $1 SUBSEP $2
        val[key, ++count[key]] = $3
        all[key] = (count[key] > 1 ? all[key] "," : "") $3
    }
    END {
        # How each metric compares: "higher" is better (throughput) or
        # "lower" (times, latencies, memory); the ratio is always
        # joltdb/PostgreSQL of the medians.
        desc["load_s"] = "pgbench -i -s " scale " (s)"
        desc["tpcb_c8"] = "TPC-B prepared, 8 clients (tps)"
        desc["tpcb_c32"] = "TPC-B prepared, 32 clients (tps)"
        desc["select_prepared_c8"] = "select-only prepared, 8 clients (tps)"
        desc["select_simple_c8"] = "select-only simple, 8 clients (tps)"
        desc["update_c8"] = "point UPDATE autocommit, 8 clients (tps)"
        desc["tpcb_c1.p50_ms"] = "TPC-B 1 client p50 (ms)"
        desc["tpcb_c1.p99_ms"] = "TPC-B 1 client p99 (ms)"
        desc["select_c1.p50_ms"] = "select-only 1 client p50 (ms)"
        desc["select_c1.p99_ms"] = "select-only 1 client p99 (ms)"
        printf "\n%-42s %12s %12s %8s\n", "workload (median of " rounds " rounds, " duration " s each)", "joltdb", "PostgreSQL", "ratio"
        printf "%-42s %12s %12s %8s\n", "------------------------------------------", "------------", "------------", "--------"
        printf "{\n  \"date\": \"%s\",\n  \"machine\": \"%s\",\n  \"rounds\": %d,\n  \"duration_s\": %d,\n  \"scale\": %d,\n  \"results\": [\n", date, host, rounds, duration, scale > out
        for (i = 1; i <= nm; i++) {
            m = order[i]
            j = median(m SUBSEP "joltdb"); p = median(m SUBSEP "postgres")
            ratio = (p > 0) ? j / p : 0
            d = (m in desc) ? desc[m] : m
            if (m ~ /^rss_s[0-9]+\.raw_mb$/) { d = "raw row bytes, scale " substr(m, 6, index(m, ".") - 6) " (MB)"; ratio = 0 }
            if (m ~ /^rss_s[0-9]+\.mb$/ || m ~ /^rss_s[0-9]+\.now_mb$/) {
                # Memory is compared with the raw row bytes, not with
                # PostgreSQL, whose data lives on disk and in the page cache.
                sc = substr(m, 6, index(m, ".") - 6)
                raw = median("rss_s" sc ".raw_mb" SUBSEP "joltdb")
                d = (m ~ /now/) ? "memory after -i -s " sc ", resident (MB) / raw" : "memory after -i -s " sc ", peak (MB) / raw"
                ratio = (raw > 0 && j != "") ? j / raw : 0
            }
            if (m ~ /^rss_s[0-9]+\.disk_mb$/) { d = "PostgreSQL database size, scale " substr(m, 6, index(m, ".") - 6) " (MB)"; j = "" }
            fmt = (j != "" && j + 0 >= 100) ? "%12.0f" : "%12.3f"
            printf "%-42s ", d
            if (j == "") printf "%12s ", "-"; else printf fmt " ", j
            if (p == "") printf "%12s ", "-"; else printf fmt " ", p
            if (ratio > 0) printf "%7.2fx\n", ratio; else printf "%8s\n", "-"
            printf "    {\"metric\": \"%s\", \"description\": \"%s\", \"joltdb\": %s, \"postgres\": %s, \"ratio\": %s, \"joltdb_samples\": [%s], \"postgres_samples\": [%s]}%s\n", \
                m, d, (j == "" ? "null" : j), (p == "" ? "null" : p), (ratio > 0 ? sprintf("%.4f", ratio) : "null"), \
                all[m SUBSEP "joltdb"], all[m SUBSEP "postgres"], (i < nm ? "," : "") > out
        }
        printf "  ]\n}\n" > out
        printf "\nratio = joltdb / PostgreSQL (higher is better for tps; lower for times and latencies);\n"
        printf "memory rows: ratio = joltdb / raw row bytes; the PostgreSQL column is its total process PSS\n"
        printf "%s, %s; JSON in %s\n", date, host, out
    }' "$SAMPLES" "$SAMPLES.sorted"
