# shellcheck shell=bash disable=SC2034,SC2154
# (COMPONENT_VERSION is read by tests/cluster/build, which also defines $cache,
# $here and the functions used here.)
# kube-scheduler (k8s.io/kubernetes cmd/kube-scheduler): places the lab's Pods
# on its kwok Node. Sourced by tests/cluster/build --lab (see its last section).
#
# Built in the control plane's own wrapper module (tests/cluster/gobuild/kube):
# its go.mod already requires k8s.io/kubernetes at KUBERNETES_VERSION, and
# the go.sum that kube-apiserver and kube-controller-manager need already
# covers every package kube-scheduler imports, so the committed files need no
# change. Should a later pin need a line they lack, `go build` stops with
# "missing go.sum entry" (it never edits them): then add
# k8s.io/kubernetes/cmd/kube-scheduler to regen_kube's tool block. Same
# -ldflags as the plane binaries (kube_ldflags in tests/cluster/build), so
# --version reports the pin.

COMPONENT_VERSION=$KUBERNETES_VERSION

component_build() {
  local out=$1 moddir=$here/gobuild/kube ld
  ld=$(kube_ldflags)
  timed "kube-scheduler: go build" run lab-kube-scheduler-build bash -c \
    "cd '$moddir' && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags '$ld' -o '$out/kube-scheduler' k8s.io/kubernetes/cmd/kube-scheduler"
}
