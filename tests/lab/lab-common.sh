# lab-common.sh -- topology, paths and helpers of zoneaudit's BGP lab; sourced by the lab-*.sh scripts.
#
# Two Calico-style zones, each with two "calico-node" BIRD 2 instances and one BIRD 2 route
# reflector, and a border leaf that keeps the zones in separate tables (BIRD) or VRFs (FRR).
# Every device lives in its own network namespace named zat-*; nothing is configured on the host.
#
#   zat-sw: bridge "fabric", one L2 underlay 172.31.0.0/24 (as Calico nodes share a subnet);
#           the zone model splits it: yellow 172.31.0.8/29, blue 172.31.0.16/29
#     zat-y-rr    172.31.0.10   route reflector, zone yellow        AS 64512 (Calico default)
#     zat-y-node1 172.31.0.11   originates pod block 10.10.0.0/26
#     zat-y-node2 172.31.0.12   originates pod block 10.10.0.64/26
#     zat-b-rr    172.31.0.20   route reflector, zone blue
#     zat-b-node1 172.31.0.21   originates 10.20.0.0/26
#     zat-b-node2 172.31.0.22   originates 10.20.0.64/26
#   transit links RR <-> border leaf (eBGP, leaf AS 65000):
#     zat-y-rr leaf0 172.31.101.1/30 <-> leaf yellow0 172.31.101.2/30   table/VRF yellow
#     zat-b-rr leaf0 172.31.102.1/30 <-> leaf blue0   172.31.102.2/30   table/VRF blue
#   the leaf originates one external prefix per zone: yellow 192.0.2.0/24, blue 198.51.100.0/24
#
#   leaf "bird": one namespace zat-leaf, BIRD 2 with `ipv4 table yellow; ipv4 table blue;`
#   leaf "frr" : this kind of kernel may lack CONFIG_NET_VRF, so FRR runs its netns VRF backend
#                (zebra -n): zat-leaf is the default VRF, the namespaces zat-vrf-yellow and
#                zat-vrf-blue are the VRFs (an FRR netns VRF is named after its namespace).
#
# Runtime state (configs, control sockets, pid files, logs) lives in $ZAT_LAB_DIR, which the caller
# chooses (a test passes its own temporary directory). Namespace names are global, so only one lab
# can run per machine: whoever runs these scripts must serialise (the Rust tests hold a file lock).

# shellcheck disable=SC2034  # sourced: the variables are used by the scripts that source this
ZAT_LAB_DIR=${ZAT_LAB_DIR:-/run/zat-lab}
LAB=$ZAT_LAB_DIR
WAIT_S=${WAIT_S:-60}

ZONES="y b"
declare -A VRF=([y]=yellow [b]=blue)
declare -A NODES=([y]="y-node1 y-node2" [b]="b-node1 b-node2")
BIRD_NS="y-rr y-node1 y-node2 b-rr b-node1 b-node2" # instances that run BIRD (besides a BIRD leaf)
declare -A IP=([y-rr]=172.31.0.10 [y-node1]=172.31.0.11 [y-node2]=172.31.0.12
               [b-rr]=172.31.0.20 [b-node1]=172.31.0.21 [b-node2]=172.31.0.22)
declare -A POD=([y-node1]=10.10.0.0/26 [y-node2]=10.10.0.64/26
                [b-node1]=10.20.0.0/26 [b-node2]=10.20.0.64/26)
declare -A RR_P2P=([y]=172.31.101.1 [b]=172.31.102.1)
declare -A LEAF_P2P=([y]=172.31.101.2 [b]=172.31.102.2)
declare -A EXT=([y]=192.0.2.0/24 [b]=198.51.100.0/24)
CLUSTER_AS=64512
LEAF_AS=65000
# Lowered timers: the defaults (connect delay 5 s, FRR connect retry 120 s) make a lab take minutes.
BIRD_TIMERS='connect delay time 1; connect retry time 2; error wait time 1, 4; hold time 9; keepalive time 3; startup hold time 9;'

ns() { echo "zat-$1"; }
sock() { echo "$LAB/$1/bird.ctl"; }
birdc_() { local n=$1; shift; birdc -s "$(sock "$n")" "$@"; }
frr_dir() { echo "$LAB/leaf/frr"; }
vtysh_() { ip netns exec zat-leaf vtysh --vty_socket "$(frr_dir)" "$@"; }
frr_vrf() { echo "zat-vrf-$1"; }   # FRR VRF name of a zone colour
now_ms() { date +%s%3N; }
leaf_impl() { cat "$LAB/leaf-impl" 2>/dev/null; }
die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# ------------------------------------------------------------------ what the lab looks like

# Sessions that are not Established, as "instance:protocol(state)" words; empty when all are.
not_established() {
  local n names=$BIRD_NS out="" p
  [ "$(leaf_impl)" = bird ] && names+=" leaf"
  for n in $names; do
    if p=$(birdc_ "$n" show protocols 2>/dev/null); then
      out+=$(awk -v n="$n" '$2=="BGP" && $6!="Established" {printf "%s:%s(%s) ", n, $1, $4}' <<<"$p")
    else
      out+="$n:no-control-socket "
    fi
  done
  if [ "$(leaf_impl)" = frr ]; then
    local v j
    for v in yellow blue; do
      j=$(vtysh_ -c "show bgp vrf $(frr_vrf "$v") summary json" 2>/dev/null) || { out+="leaf:no-vty "; continue; }
      grep -q '"state":"Established"' <<<"$j" || out+="leaf:$(frr_vrf "$v")(not-established) "
    done
  fi
  echo "$out"
}

# Prefixes in one routing table. A place is an instance ("y-rr") or a leaf table ("leaf/blue").
routes_at() {
  local place=$1
  case $place in
  leaf/*)
    local t=${place#leaf/}
    if [ "$(leaf_impl)" = bird ]; then
      birdc_ leaf show route table "$t" | awk '$1 ~ /^[0-9.]+\/[0-9]+$/ {print $1}'
    else
      # text form: one line per prefix starting with the route code (B>*, B>r, C>*, ...)
      vtysh_ -c "show ip route vrf $(frr_vrf "$t")" |
        awk '/^[A-Za-z]/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+\/[0-9]+$/) { print $i; break } }'
    fi ;;
  *) birdc_ "$place" show route | awk '$1 ~ /^[0-9.]+\/[0-9]+$/ {print $1}' ;;
  esac
}

# expect "place=prefix ..." "place=prefix ...": succeed when every first-list route is there and no
# second-list route is; otherwise print what differs (the last reason is shown on a timeout).
expect_routes() {
  local present=$1 absent=$2 item place prefix bad="" have
  declare -A cache=()
  for item in $present $absent; do
    place=${item%%=*}
    [ -n "${cache[$place]+x}" ] || cache[$place]=" $(routes_at "$place" 2>/dev/null | tr '\n' ' ')"
  done
  for item in $present; do
    place=${item%%=*}; prefix=${item#*=}; have=${cache[$place]}
    [[ $have == *" $prefix "* ]] || bad+="$place lacks $prefix; "
  done
  for item in $absent; do
    place=${item%%=*}; prefix=${item#*=}; have=${cache[$place]}
    [[ $have == *" $prefix "* ]] && bad+="$place still has $prefix; "
  done
  [ -z "$bad" ] && return 0
  echo "$bad" > "$LAB/last-wait"
  return 1
}

sessions_up() {
  local pending; pending=$(not_established)
  [ -z "$pending" ] && return 0
  echo "not Established: $pending" > "$LAB/last-wait"
  return 1
}

# wait_until DESCRIPTION COMMAND...: poll until COMMAND succeeds, exit 2 after WAIT_S seconds.
wait_until() {
  local what=$1; shift
  local t0; t0=$(now_ms)
  local deadline=$((t0 + WAIT_S * 1000))
  until "$@"; do
    if [ "$(now_ms)" -ge "$deadline" ]; then
      echo "$(basename "$0"): gave up after ${WAIT_S}s waiting for $what: $(cat "$LAB/last-wait" 2>/dev/null)" >&2
      exit 2
    fi
    sleep 0.1
  done
  echo "$(basename "$0"): $what after $(($(now_ms) - t0)) ms"
}

# The routes of a healthy lab: each zone's blocks and external prefix everywhere in the zone, and
# nothing of the other zone. (The FRR leaf does not install its own `network` in the RIB.)
baseline_present() {
  local z n m out=""
  for z in $ZONES; do
    for n in ${NODES[$z]}; do
      out+=" $z-rr=${POD[$n]} leaf/${VRF[$z]}=${POD[$n]}"
      for m in ${NODES[$z]}; do [ "$m" = "$n" ] || out+=" $m=${POD[$n]}"; done
    done
    for n in $z-rr ${NODES[$z]}; do out+=" $n=${EXT[$z]}"; done
  done
  echo "$out"
}
baseline_absent() {  # every leak a fault can cause
  echo "leaf/blue=10.10.0.0/26 leaf/blue=10.10.0.64/26 leaf/yellow=10.20.0.0/26" \
       "y-rr=10.20.0.0/26 y-node1=10.20.0.0/26 y-node2=10.20.0.0/26" \
       "b-node1=10.10.0.0/26 b-node1=10.10.0.64/26 b-node1=192.0.2.0/24"
}
baseline() { sessions_up && expect_routes "$(baseline_present)" "$(baseline_absent)"; }

# ------------------------------------------------------------------ the FRR leaf

frr_bgpd_conf() {
  local z v
  cat <<C
hostname zat-leaf
log file $LAB/leaf/bgpd.log
!
ip prefix-list YELLOW_PODS seq 5 permit 10.10.0.0/16 le 32
route-map LEAK_YELLOW permit 10
 match ip address prefix-list YELLOW_PODS
!
C
  for z in $ZONES; do
    v=$(frr_vrf "${VRF[$z]}")
    cat <<C
router bgp $LEAF_AS vrf $v
 bgp router-id ${LEAF_P2P[$z]}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${RR_P2P[$z]} remote-as $CLUSTER_AS
 neighbor ${RR_P2P[$z]} timers 3 9
 neighbor ${RR_P2P[$z]} timers connect 2
 address-family ipv4 unicast
  network ${EXT[$z]}
 exit-address-family
!
C
  done
}

frr_start() {
  local d=$LAB/leaf
  mkdir -p "$d/frr"
  printf 'hostname zat-leaf\nlog file %s/zebra.log\n' "$d" > "$d/zebra.conf"
  frr_bgpd_conf > "$d/bgpd.conf"
  # FRR refuses to run as root (root is not in its vty group), so it runs as frr and must be
  # able to reach its own directory.
  chown -R frr:frr "$d"
  setpriv --reuid=frr --regid=frr --clear-groups test -w "$d/frr" ||
    die "user frr cannot write $d/frr: every directory above ZAT_LAB_DIR must be searchable by others"
  local common=(-d -u frr -g frr -z "$d/frr/zserv.api" --vty_socket "$d/frr")
  ip netns exec zat-leaf /usr/lib/frr/zebra "${common[@]}" -n -f "$d/zebra.conf" -i "$d/zebra.pid" \
    2>>"$d/zebra.stderr"
  for _ in $(seq 50); do [ -S "$d/frr/zserv.api" ] && break; sleep 0.1; done
  ip netns exec zat-leaf /usr/lib/frr/bgpd "${common[@]}" -f "$d/bgpd.conf" -i "$d/bgpd.pid"
  for _ in $(seq 50); do [ -S "$d/frr/bgpd.vty" ] && break; sleep 0.1; done
  [ -S "$d/frr/bgpd.vty" ] || die "bgpd did not open its vty socket (see $d/bgpd.log)"
}

# Misconfigured inter-VRF route leaking: VRF blue imports yellow's pod blocks.
frr_import_vrf() {
  local no=${1:-}
  local blue yellow; blue=$(frr_vrf blue); yellow=$(frr_vrf yellow)
  if [ -z "$no" ]; then
    vtysh_ -c 'configure terminal' -c "router bgp $LEAF_AS vrf $blue" -c 'address-family ipv4 unicast' \
           -c 'import vrf route-map LEAK_YELLOW' -c "import vrf $yellow" >/dev/null
  else
    vtysh_ -c 'configure terminal' -c "router bgp $LEAF_AS vrf $blue" -c 'address-family ipv4 unicast' \
           -c "no import vrf $yellow" -c 'no import vrf route-map LEAK_YELLOW' >/dev/null
  fi
}
