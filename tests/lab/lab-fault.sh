#!/usr/bin/env bash
# lab-fault.sh FAULT -- inject a zone-isolation fault into the running lab, or clear all of them,
# and wait until the routing tables show it (so a snapshot taken right after is deterministic).
#
#   pipe        BIRD leaf: a `protocol pipe` copies yellow's pod blocks (10.10.0.0/16+) from table
#               yellow into table blue (inter-VRF leaking by hand)
#   import-vrf  FRR leaf: VRF blue gets `import vrf zat-vrf-yellow` with a route-map that passes
#               yellow's pod blocks
#   peer        b-node1 (zone blue) also peers with y-rr (zone yellow), and y-rr takes it as a
#               client: 10.20.0.0/26 spreads through yellow, yellow's routes reach b-node1
#   down        y-node2 shuts its session to y-rr (`birdc disable y_rr`)
#   clear       undo every fault and wait until the lab is back at its baseline
#
# Exit 1 on misuse (lab not up, fault for the other leaf), 2 when the lab does not reach the state.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lab-common.sh"
LEAF=$(leaf_impl) || die "the lab is not up in $LAB (run lab-up.sh first)"
mkdir -p "$LAB/faults"

reconfigure() {  # BIRD re-reads its config, extra.conf included
  local out
  out=$(birdc_ "$1" configure) || die "birdc configure on $1 failed: $out"
  grep -Eq 'Reconfigured|Reconfiguration in progress' <<<"$out" || die "BIRD on $1 refused the new config: $out"
}

case ${1:-} in
pipe)
  [ "$LEAF" = bird ] || die "the pipe leak needs the BIRD leaf (this lab runs the $LEAF leaf; use import-vrf)"
  cat > "$LAB/leaf/extra.conf" <<C
# FAULT pipe: yellow's pod blocks copied into table blue
protocol pipe leak_yellow_to_blue {
  table yellow;
  peer table blue;
  export where net ~ [ 10.10.0.0/16+ ];
  import none;
}
C
  reconfigure leaf
  wait_until "yellow's pod blocks in table blue" \
    expect_routes "leaf/blue=10.10.0.0/26 leaf/blue=10.10.0.64/26" ""
  ;;
import-vrf)
  [ "$LEAF" = frr ] || die "the import-vrf leak needs the FRR leaf (this lab runs the $LEAF leaf; use pipe)"
  frr_import_vrf
  touch "$LAB/faults/import-vrf"
  wait_until "yellow's pod blocks in VRF $(frr_vrf blue)" \
    expect_routes "leaf/blue=10.10.0.0/26 leaf/blue=10.10.0.64/26" ""
  ;;
peer)
  cat > "$LAB/b-node1/extra.conf" <<C
# FAULT peer: a node of zone blue also peers with the yellow route reflector
protocol bgp y_rr_wrong from rrpeer { neighbor ${IP[y-rr]} as $CLUSTER_AS; }
C
  cat > "$LAB/y-rr/extra.conf" <<C
# FAULT peer: the yellow route reflector accepts a client of zone blue
protocol bgp b_node1 from rrclient { neighbor ${IP[b-node1]} as $CLUSTER_AS; }
C
  reconfigure y-rr
  reconfigure b-node1
  wait_until "the cross-zone session Established" sessions_up
  wait_until "the cross-zone routes everywhere" expect_routes \
    "y-rr=10.20.0.0/26 y-node1=10.20.0.0/26 y-node2=10.20.0.0/26 leaf/yellow=10.20.0.0/26
     b-node1=10.10.0.0/26 b-node1=10.10.0.64/26 b-node1=192.0.2.0/24" ""
  ;;
down)
  out=$(birdc_ y-node2 disable y_rr)
  grep -Eq 'disabled' <<<"$out" || die "birdc disable y_rr on y-node2: $out"
  y_rr_sees_down() {
    local s
    s=$(birdc_ y-rr show protocols y_node2 | awk '$1=="y_node2" {print $6}')
    [ "$s" != Established ] && return 0
    echo "y-rr still sees y_node2 Established" > "$LAB/last-wait"; return 1
  }
  wait_until "y-rr to see the session down" y_rr_sees_down
  wait_until "y-node2's block withdrawn" \
    expect_routes "" "y-rr=10.10.0.64/26 y-node1=10.10.0.64/26 leaf/yellow=10.10.0.64/26"
  ;;
clear)
  for n in $BIRD_NS leaf; do
    if [ -s "$LAB/$n/extra.conf" ]; then : > "$LAB/$n/extra.conf"; reconfigure "$n"; fi
  done
  if birdc_ y-node2 show protocols y_rr | awk '$1=="y_rr" {print $4}' | grep -qx down; then
    birdc_ y-node2 enable y_rr >/dev/null
  fi
  if [ -e "$LAB/faults/import-vrf" ]; then frr_import_vrf no; rm -f "$LAB/faults/import-vrf"; fi
  wait_until "the lab back at its baseline" baseline
  ;;
*) die "usage: lab-fault.sh pipe|import-vrf|peer|down|clear" ;;
esac
