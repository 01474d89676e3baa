#!/usr/bin/env bash
# A brygga cluster on one machine, for trying it out (docs/cluster.md):
# PostgreSQL, Kamailio on 127.0.0.1:5470 with deploy/kamailio/kamailio.cfg,
# and three nodes on 127.0.0.11, .12 and .13 (SIP 5060, RTP and the API on
# port 8080 of the same address). Everything lives in DIR: the database,
# the binary, every config, pid file and log.
#
#   scripts/cluster.sh up DIR       # build, start, wait until all answer, print where
#   scripts/cluster.sh status DIR   # what runs, and Kamailio's view of the nodes
#   scripts/cluster.sh down DIR     # stop all of it (by pid file; again is harmless)
#
# Rooms 4711-4799 with PIN 2468 (host PIN 97531), unless DIR/brygga.yaml
# exists: it is then the base of every node's config (rooms, defaults,
# tokens, …). The script adds `cluster:` (which the base must not have),
# and adds `api:`, `sip:` and the rooms only where the base has no
# `api:`, no `sip:`, and neither `directory:` nor `open_rooms:`. Addresses,
# ports and the store are the script's, on the command line (which wins
# over the file).
#
# Environment (read by `up`; status and down read DIR/cluster.env):
#   CLUSTER_TOKEN       the operator's API token (cluster-operator-token)
#   CLUSTER_SIP_PORT    the nodes' SIP port (5060)
#   CLUSTER_API_PORT    the nodes' API port (8080)
#   CLUSTER_PROXY_PORT  Kamailio's port on 127.0.0.1 (5470)
#   CLUSTER_RTP_PORTS   each node's RTP ports (20000-29999)
#   CLUSTER_HEARTBEAT   cluster.heartbeat (2s)
#
# Nothing listens outside 127.0.0.0/8: PostgreSQL has a unix socket only
# (DIR/pg), the rest is bound to the loopback addresses above. As root,
# PostgreSQL runs as the postgres user (it refuses root), which must be
# able to reach DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE_IPS=(127.0.0.11 127.0.0.12 127.0.0.13)
PROXY_IP=127.0.0.1

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# as_pg runs a PostgreSQL program: as the postgres user when we are root.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pg_bin is the folder of initdb, postgres and pg_ctl: the newest of
# Debian's /usr/lib/postgresql/VERSION/bin, else the one on PATH.
pg_bin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
		if [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
	local p
	p=$(command -v initdb) || die "PostgreSQL not found (Debian: apt-get install postgresql)"
	echo "$(dirname "$p")"
}

# kamailio_modules is the folder holding the modules the shipped config loads.
kamailio_modules() {
	local d
	for d in /usr/lib/*-linux-gnu/kamailio/modules /usr/lib/kamailio/modules /usr/local/lib/kamailio/modules /usr/local/lib64/kamailio/modules; do
		if [ -e "$d/dispatcher.so" ] && [ -e "$d/tm.so" ]; then
			echo "$d"
			return
		fi
	done
	die "no Kamailio modules folder with dispatcher.so (Debian: apt-get install kamailio)"
}

# alive PIDFILE NAME: the pid file names a running process whose command
# is NAME, so a pid reused by another program is never signalled.
alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(head -n1 "$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# stop PIDFILE NAME: SIGTERM, then SIGKILL of its process group after 15 s.
stop() {
	local pid i
	if ! alive "$1" "$2"; then
		rm -f "$1"
		return
	fi
	pid=$(head -n1 "$1")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		alive "$1" "$2" || break
		sleep 0.1
	done
	if alive "$1" "$2"; then
		echo "cluster.sh: $2 ($pid) still up 15 s after SIGTERM: killed" >&2
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

load_env() {
	[ -f "$DIR/cluster.env" ] || return 1
	# shellcheck source=/dev/null
	. "$DIR/cluster.env"
}

# has_key FILE KEY: FILE has KEY at the top level.
has_key() {
	grep -Eq "^$2[[:space:]]*:" "$1"
}

# node_config N: node N's config file, on stdout.
node_config() {
	local n=$1 ip=${NODE_IPS[$(($1 - 1))]} base=$DIR/brygga.yaml
	echo "# node$n of scripts/cluster.sh: started as"
	echo "#   brygga serve --config $DIR/node$n.yaml --sip $ip:$SIP_PORT --media-ip $ip"
	echo "#     --rtp-ports $RTP_PORTS --api $ip:$API_PORT --data $DIR/node$n --store (DIR/pg)"
	if [ -f "$base" ]; then
		echo "# Its base: $base"
		cat "$base"
		echo
	fi
	cat <<EOF
cluster:
  node_id: node$n
  advertise: "$ip:$SIP_PORT"
  heartbeat: $HEARTBEAT
EOF
	if [ ! -f "$base" ] || ! has_key "$base" sip; then
		cat <<EOF
sip:
  # Kamailio: its caller IDs are believed.
  trusted: ["$PROXY_IP/32"]
EOF
	fi
	if [ ! -f "$base" ] || ! has_key "$base" api; then
		cat <<EOF
api:
  tokens:
    - {name: cluster-operator, token: "$TOKEN", role: operator}
EOF
	fi
	if [ ! -f "$base" ] || ! { has_key "$base" directory || has_key "$base" open_rooms; }; then
		echo 'open_rooms: ""'
		echo "directory:"
		local r
		for ((r = 4711; r <= 4799; r++)); do
			echo "  - {extension: \"$r\", name: \"Room $r\", pin: \"2468\", host_pin: \"97531\"}"
		done
	fi
}

up() {
	TOKEN=${CLUSTER_TOKEN:-cluster-operator-token}
	SIP_PORT=${CLUSTER_SIP_PORT:-5060}
	API_PORT=${CLUSTER_API_PORT:-8080}
	PROXY_PORT=${CLUSTER_PROXY_PORT:-5470}
	RTP_PORTS=${CLUSTER_RTP_PORTS:-20000-29999}
	HEARTBEAT=${CLUSTER_HEARTBEAT:-2s}
	local p
	for p in "$SIP_PORT" "$API_PORT" "$PROXY_PORT"; do
		[[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "port $p: want 1-65535"
	done
	[[ $RTP_PORTS =~ ^[0-9]+-[0-9]+$ ]] || die "CLUSTER_RTP_PORTS $RTP_PORTS: want LO-HI"
	[[ $TOKEN =~ ^[A-Za-z0-9._~+/=-]+$ ]] || die "CLUSTER_TOKEN: letters, digits and ._~+/=- only"
	if [ -f "$DIR/brygga.yaml" ] && has_key "$DIR/brygga.yaml" cluster; then
		die "$DIR/brygga.yaml has a cluster: key; the script writes each node's, leave it out"
	fi

	local f
	for f in "$DIR"/*.pid "$DIR/pg/data/postmaster.pid"; do
		if [ -f "$f" ]; then
			die "$DIR has pid files ($f): already up? scripts/cluster.sh down $DIR first"
		fi
	done
	local kamailio pgbin modules
	kamailio=$(command -v kamailio) || die "kamailio not found (Debian: apt-get install kamailio)"
	command -v kamcmd >/dev/null || die "kamcmd not found (Debian package kamailio)"
	command -v curl >/dev/null || die "curl not found"
	modules=$(kamailio_modules)
	pgbin=$(pg_bin)

	cat >"$DIR/cluster.env" <<EOF
TOKEN=$TOKEN
SIP_PORT=$SIP_PORT
API_PORT=$API_PORT
PROXY_PORT=$PROXY_PORT
RTP_PORTS=$RTP_PORTS
HEARTBEAT=$HEARTBEAT
EOF
	# Whatever fails from here on, what was started is stopped again.
	trap 'echo "cluster.sh: up failed; stopping what was started (logs in $DIR)" >&2; down >/dev/null 2>&1 || true' EXIT

	echo "building brygga into $DIR/bin"
	(cd "$ROOT" && go build -o "$DIR/bin/brygga" ./cmd/brygga)

	start_postgres "$pgbin"
	local i
	for i in 1 2 3; do
		node_config "$i" >"$DIR/node$i.yaml"
		start_node "$i"
	done
	start_kamailio "$kamailio" "$modules"
	for i in 1 2 3; do
		wait_node "$i"
	done
	wait_dispatcher
	trap - EXIT
	echo
	table
}

start_postgres() {
	local bin=$1 pg=$DIR/pg
	mkdir -p "$pg"
	: >"$DIR/postgres.log"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$pg" "$DIR/postgres.log"
		runuser -u postgres -- test -x "$DIR" ||
			die "the postgres user cannot reach $DIR (chmod o+x it and its parents)"
	fi
	if [ ! -f "$pg/data/PG_VERSION" ]; then
		as_pg "$bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --locale=C >>"$DIR/postgres.log" 2>&1 ||
			die "initdb failed: see $DIR/postgres.log"
	fi
	# A unix socket in DIR/pg and no TCP port.
	as_pg "$bin/pg_ctl" -D "$pg/data" -l "$DIR/postgres.log" -w -t 60 \
		-o "-c listen_addresses='' -k $pg -c max_connections=100" start >/dev/null ||
		die "PostgreSQL did not start: see $DIR/postgres.log"
	head -n1 "$pg/data/postmaster.pid" >"$DIR/postgres.pid"
	if ! as_pg "$bin/psql" -h "$pg" -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'brygga'" | grep -q 1; then
		as_pg "$bin/createdb" -h "$pg" -U postgres brygga
	fi
	echo "PostgreSQL up (socket in $pg)"
}

store_url() {
	echo "postgres://postgres@/brygga?host=$DIR/pg&sslmode=disable"
}

start_node() {
	local n=$1 ip=${NODE_IPS[$(($1 - 1))]}
	mkdir -p "$DIR/node$n"
	(
		cd "$DIR"
		exec setsid "$DIR/bin/brygga" serve --config "$DIR/node$n.yaml" --store "$(store_url)" \
			--sip "$ip:$SIP_PORT" --media-ip "$ip" --rtp-ports "$RTP_PORTS" \
			--api "$ip:$API_PORT" --data "$DIR/node$n" </dev/null >>"$DIR/node$n.log" 2>&1
	) &
	echo $! >"$DIR/node$n.pid"
}

wait_node() {
	local n=$1 ip=${NODE_IPS[$(($1 - 1))]} i
	for ((i = 0; i < 300; i++)); do
		if curl -fsS -m 1 -o /dev/null "http://$ip:$API_PORT/readyz" 2>/dev/null; then
			return
		fi
		alive "$DIR/node$n.pid" brygga || die "node$n exited: $(tail -n 5 "$DIR/node$n.log")"
		sleep 0.1
	done
	die "node$n not ready after 30 s: see $DIR/node$n.log"
}

start_kamailio() {
	local kamailio=$1 modules=$2 ip
	: >"$DIR/dispatcher.list"
	for ip in "${NODE_IPS[@]}"; do
		echo "1 sip:$ip:$SIP_PORT" >>"$DIR/dispatcher.list"
	done
	mkdir -p "$DIR/kamailio"
	(
		# -DD -E: in the foreground (a child of setsid), logging to
		# stderr; -Y: its runtime folder; -A: the site settings the
		# shipped config leaves to #!trydef.
		exec setsid "$kamailio" -f "$ROOT/deploy/kamailio/kamailio.cfg" -DD -E -Y "$DIR/kamailio" \
			-m 64 -M 8 -L "$modules" \
			-A "LISTEN_IP=$PROXY_IP" -A "LISTEN_PORT=$PROXY_PORT" \
			-A "DISPATCHER_LIST=\"$DIR/dispatcher.list\"" \
			-A 'PBX_NETS="127.0.0.0/8"' -A PROBE_INTERVAL=1 -A NODE_TIMEOUT=2000 \
			-A "CTL_SOCKET=\"unix:$DIR/kamailio_ctl\"" </dev/null >>"$DIR/kamailio.log" 2>&1
	) &
	echo $! >"$DIR/kamailio.pid"
}

# wait_dispatcher waits until Kamailio answers kamcmd and its probes found
# all three nodes up.
wait_dispatcher() {
	local i up
	for ((i = 0; i < 300; i++)); do
		alive "$DIR/kamailio.pid" kamailio || die "Kamailio exited: $(tail -n 5 "$DIR/kamailio.log")"
		up=$(kamcmd -s "unix:$DIR/kamailio_ctl" dispatcher.list 2>/dev/null | grep -c 'FLAGS: AP' || true)
		if [ "$up" -eq 3 ]; then
			return
		fi
		sleep 0.1
	done
	die "Kamailio's probes did not find the three nodes up within 30 s: see $DIR/kamailio.log"
}

table() {
	local n ip state
	printf '%-10s %-8s %-7s %-22s %s\n' WHAT STATE PID WHERE LOG
	state() { if alive "$1" "$2"; then echo up; else echo down; fi; }
	printf '%-10s %-8s %-7s %-22s %s\n' postgresql "$(state "$DIR/postgres.pid" postgres)" "$(head -n1 "$DIR/postgres.pid" 2>/dev/null || echo -)" "$DIR/pg (socket)" "$DIR/postgres.log"
	printf '%-10s %-8s %-7s %-22s %s\n' kamailio "$(state "$DIR/kamailio.pid" kamailio)" "$(head -n1 "$DIR/kamailio.pid" 2>/dev/null || echo -)" "sip:$PROXY_IP:$PROXY_PORT" "$DIR/kamailio.log"
	for n in 1 2 3; do
		ip=${NODE_IPS[$((n - 1))]}
		printf '%-10s %-8s %-7s %-22s %s\n' "node$n" "$(state "$DIR/node$n.pid" brygga)" "$(head -n1 "$DIR/node$n.pid" 2>/dev/null || echo -)" "sip:$ip:$SIP_PORT" "$DIR/node$n.log"
		printf '%-10s %-8s %-7s %-22s %s\n' "" "" "" "http://$ip:$API_PORT" "RTP $ip:$RTP_PORTS"
	done
	echo
	echo "Call a room through Kamailio: sip:4711@$PROXY_IP:$PROXY_PORT (PIN 2468, host PIN 97531, unless $DIR/brygga.yaml says otherwise)"
	echo "Operator token: $TOKEN, e.g."
	echo "  $DIR/bin/brygga ctl --api http://${NODE_IPS[0]}:$API_PORT --token $TOKEN rooms"
	echo "Database: psql -h $DIR/pg -U postgres brygga"
	echo "Stop: $0 down $DIR"
}

status() {
	load_env || die "$DIR/cluster.env missing: never brought up with $0 up $DIR"
	table
	if alive "$DIR/kamailio.pid" kamailio; then
		echo
		echo "Kamailio's nodes (FLAGS AP: active, IP: inactive, probing):"
		kamcmd -s "unix:$DIR/kamailio_ctl" dispatcher.list | grep -E 'URI|FLAGS' || true
	fi
}

down() {
	local n
	stop "$DIR/kamailio.pid" kamailio
	for n in 1 2 3; do
		stop "$DIR/node$n.pid" brygga
	done
	if [ -f "$DIR/pg/data/postmaster.pid" ]; then
		as_pg "$(pg_bin)/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 30 stop >/dev/null || true
	fi
	rm -f "$DIR/postgres.pid"
	echo "cluster in $DIR stopped"
}

[ $# -eq 2 ] || usage
case $2 in
/*) DIR=$2 ;;
*) DIR=$(pwd)/$2 ;;
esac
[[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR $DIR: letters, digits and ._/+- only (it goes into config files and URLs)"
case $1 in
up)
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	up
	;;
status) status ;;
down)
	[ -d "$DIR" ] || {
		echo "cluster.sh: no $DIR: nothing to stop"
		exit 0
	}
	down
	;;
*) usage ;;
esac
