# shellcheck shell=bash disable=SC2034,SC2154
# (COMPONENT_VERSION is read by tests/cluster/build, which also defines $cache,
# $here and the functions used here.)
# kube-proxy (k8s.io/kubernetes cmd/kube-proxy): programs the lab node's
# Services in nftables mode, so that a request to MetalLB's address reaches
# Traefik's pod as on a real cluster. Sourced by tests/cluster/build --lab.
#
# kube-proxy imports packages (knftables, netlink) that the control plane's
# wrapper module (tests/cluster/gobuild/kube) does not list in its go.sum,
# and `go build` never edits it: a copy of that wrapper under $cache, with
# cmd/kube-proxy added as a tool and `go mod tidy` run there, builds it
# from the same k8s.io/kubernetes pin, with the plane's -ldflags.

COMPONENT_VERSION=$KUBERNETES_VERSION

component_build() {
  local out=$1 src=$cache/lab/src/kube-proxy-$COMPONENT_VERSION ld
  rm -rf "$src"; mkdir -p "$src"
  sed -e 's#^module .*#module wildrun.test/cluster/lab/kube-proxy#' \
    -e 's#^\tk8s.io/kubernetes/cmd/kubectl$#&\n\tk8s.io/kubernetes/cmd/kube-proxy#' \
    "$here/gobuild/kube/go.mod" >"$src/go.mod"
  grep -q 'k8s.io/kubernetes/cmd/kube-proxy' "$src/go.mod" ||
    die "tests/cluster/gobuild/kube/go.mod has no tool line for kubectl to add kube-proxy after"
  cp "$here/gobuild/kube/go.sum" "$src/go.sum"
  timed "kube-proxy: go mod tidy" run lab-kube-proxy-tidy bash -c "cd '$src' && go mod tidy"
  ld=$(kube_ldflags)
  timed "kube-proxy: go build" run lab-kube-proxy-build bash -c \
    "cd '$src' && CGO_ENABLED=0 go build -trimpath -ldflags '$ld' -o '$out/kube-proxy' k8s.io/kubernetes/cmd/kube-proxy"
}
