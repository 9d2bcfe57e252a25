# shellcheck shell=bash disable=SC2034,SC2154
# (COMPONENT_VERSION is read by tests/cluster/build, which also defines $cache,
# $here and the functions used here.)
# MetalLB's speaker (go.universe.tf/metallb speaker): answers ARP for
# MetalLB's address on the network lab's LAN (up --lab --network), layer-2
# mode. Sourced by tests/cluster/build --lab.
#
# Built from metallb-controller's generated wrapper module (built just
# before it: components are built in name order), which already replaces
# the frr-k8s version the module proxy refuses; a copy of it gets the
# speaker as a second tool and `go mod tidy` adds what the speaker imports
# beyond the controller (memberlist, the ARP and NDP responders).

COMPONENT_VERSION=$METALLB_VERSION

component_build() {
  local out=$1 from=$cache/lab/src/metallb-controller-$METALLB_VERSION
  local src=$cache/lab/src/metallb-speaker-$METALLB_VERSION
  [[ -f $from/wrapper/go.mod ]] ||
    die "no $from/wrapper/go.mod: the speaker is built from metallb-controller's wrapper module (tests/cluster/build --lab builds that first)"
  rm -rf "$src"; mkdir -p "$src"
  cp -R "$from/." "$src/"
  chmod -R u+w "$src"
  sed -i 's#^tool go.universe.tf/metallb/controller$#tool (\n\tgo.universe.tf/metallb/controller\n\tgo.universe.tf/metallb/speaker\n)#' "$src/wrapper/go.mod"
  grep -q 'go.universe.tf/metallb/speaker' "$src/wrapper/go.mod" ||
    die "metallb-controller's wrapper go.mod has no 'tool go.universe.tf/metallb/controller' line to add the speaker to"
  timed "metallb-speaker: go mod tidy" run lab-metallb-speaker-tidy bash -c "cd '$src/wrapper' && go mod tidy"
  timed "metallb-speaker: go build" run lab-metallb-speaker-build bash -c \
    "cd '$src/wrapper' && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o '$out/metallb-speaker' go.universe.tf/metallb/speaker"
}
