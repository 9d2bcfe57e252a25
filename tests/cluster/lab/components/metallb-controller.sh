# shellcheck shell=bash disable=SC2034,SC2154
# (COMPONENT_VERSION is read by tests/cluster/build, which also defines $cache,
# $here, the pins and the functions used here.)
# The visibility lab's MetalLB controller (go.universe.tf/metallb's
# `controller` main package: assigns Service LoadBalancer addresses from
# IPAddressPools), sourced by `tests/cluster/build --lab`.
#
# MetalLB v0.16.2 requires github.com/metallb/frr-k8s v0.0.27, whose zip the Go
# module proxy refuses (403). v0.0.26 is served; the only thing MetalLB uses
# from v0.0.27 is its api/v1beta1 type AsPathPrependPrefixes and the
# Advertise.PrefixesWithAsPathPrepend field, for BGP AS-path prepending in
# frr-k8s mode: the speaker's job. The controller links that code (through
# internal/k8s/controllers) but only allocates addresses and never runs it. The
# recipe copies v0.0.26 from the module cache into $cache, adds that type and
# field (same JSON names as the v0.0.27 CRD in MetalLB's
# config/manifests/metallb-frr-k8s.yaml: withAsPathPrepend, asPathPrepend,
# prefixes), and points a generated wrapper module at the copy with `replace`.

COMPONENT_VERSION=$METALLB_VERSION

component_build() {
  local out=$1 src=$cache/lab/src/metallb-controller-$METALLB_VERSION
  local frr_version=v0.0.26 frr_dir upstream
  upstream=$(mod_field "go.universe.tf/metallb@$METALLB_VERSION" GoMod)
  [[ -f $upstream ]] || die "could not download go.universe.tf/metallb@$METALLB_VERSION's go.mod"
  # A replace in a dependency's go.mod is ignored; the wrapper would have to
  # repeat it.
  ! grep -qE '^replace([[:space:]]|\()' "$upstream" ||
    die "go.universe.tf/metallb@$METALLB_VERSION's go.mod has replace directives; copy them into the wrapper"
  grep -q 'github.com/metallb/frr-k8s v0.0.27$' "$upstream" ||
    die "metallb $METALLB_VERSION no longer requires frr-k8s v0.0.27; revisit the frr-k8s replacement in tests/cluster/lab/components/metallb-controller.sh"
  frr_dir=$(mod_field "github.com/metallb/frr-k8s@$frr_version" Dir)
  [[ -d $frr_dir ]] || die "could not download github.com/metallb/frr-k8s@$frr_version"

  rm -rf "$src"; mkdir -p "$src/frr-k8s" "$src/wrapper"

  # frr-k8s v0.0.26 plus v0.0.27's AS-path-prepend API.
  cp -R "$frr_dir/." "$src/frr-k8s/"
  chmod -R u+w "$src/frr-k8s"
  local api=$src/frr-k8s/api/v1beta1 field copy
  # The field, after Advertise's last field in v0.0.26 ...
  field=$(cat <<'GO'

	// PrefixesWithAsPathPrepend is a list of prefixes whose AS path is
	// prepended when advertised (from frr-k8s v0.0.27).
	// +optional
	PrefixesWithAsPathPrepend []AsPathPrependPrefixes `json:"withAsPathPrepend,omitempty"`
GO
  )
  awk -v text="$field" '
    { print }
    /^\tPrefixesWithCommunity \[\]CommunityPrefixes / { print text; n++ }
    END { exit n == 1 ? 0 : 1 }' "$api/frrconfiguration_types.go" >"$api/types.new" ||
    die "frr-k8s $frr_version: Advertise.PrefixesWithCommunity not found once in api/v1beta1/frrconfiguration_types.go"
  mv "$api/types.new" "$api/frrconfiguration_types.go"
  # ... and its deep copy, at the end of Advertise.DeepCopyInto.
  copy=$(cat <<'GO'
	if in.PrefixesWithAsPathPrepend != nil {
		in, out := &in.PrefixesWithAsPathPrepend, &out.PrefixesWithAsPathPrepend
		*out = make([]AsPathPrependPrefixes, len(*in))
		for i := range *in {
			(*in)[i].DeepCopyInto(&(*out)[i])
		}
	}
GO
  )
  awk -v text="$copy" '
    /^func \(in \*Advertise\) DeepCopyInto\(out \*Advertise\) \{$/ { inside = 1 }
    inside && /^}$/ { print text; inside = 0; n++ }
    { print }
    END { exit n == 1 ? 0 : 1 }' "$api/zz_generated.deepcopy.go" >"$api/deepcopy.new" ||
    die "frr-k8s $frr_version: Advertise.DeepCopyInto not found in api/v1beta1/zz_generated.deepcopy.go"
  mv "$api/deepcopy.new" "$api/zz_generated.deepcopy.go"
  cat >"$api/zz_wildrun_aspathprepend.go" <<'GO'
// Added by tests/cluster/lab/components/metallb-controller.sh: the part of
// frr-k8s v0.0.27's API that MetalLB v0.16.2 uses and v0.0.26 lacks.

package v1beta1

// AsPathPrependPrefixes is a list of prefixes associated with an AS path
// prepending.
type AsPathPrependPrefixes struct {
	// AsPathPrepend is the number of times to prepend the local ASN to the
	// AS path for the prefixes.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	AsPathPrepend uint8 `json:"asPathPrepend"`
	// Prefixes is the list of prefixes associated with the AS path prepending.
	// +kubebuilder:validation:MinItems=1
	Prefixes []string `json:"prefixes"`
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *AsPathPrependPrefixes) DeepCopyInto(out *AsPathPrependPrefixes) {
	*out = *in
	if in.Prefixes != nil {
		out.Prefixes = make([]string, len(in.Prefixes))
		copy(out.Prefixes, in.Prefixes)
	}
}

// DeepCopy copies the receiver into a new AsPathPrependPrefixes.
func (in *AsPathPrependPrefixes) DeepCopy() *AsPathPrependPrefixes {
	if in == nil {
		return nil
	}
	out := new(AsPathPrependPrefixes)
	in.DeepCopyInto(out)
	return out
}
GO
  if "$(go env GOROOT)/bin/gofmt" -l "$api" | grep .; then
    die "frr-k8s copy: the files above are not gofmt-clean; the additions went wrong"
  fi

  cat >"$src/wrapper/go.mod" <<MOD
// Generated by tests/cluster/lab/components/metallb-controller.sh.
// Builds MetalLB's controller; frr-k8s v0.0.27 (refused by the proxy) is
// replaced by a copy of v0.0.26 with v0.0.27's AS-path-prepend API added.
module wildrun.test/lab/metallb

$(grep -E '^(go|godebug) ' "$upstream")

tool go.universe.tf/metallb/controller

require go.universe.tf/metallb $METALLB_VERSION

replace github.com/metallb/frr-k8s => ../frr-k8s
MOD
  timed "metallb-controller: go mod tidy" run lab-metallb-controller-tidy \
    bash -c "cd '$src/wrapper' && go mod tidy"
  # The release's version is in its source; commit and branch (upstream's
  # Dockerfile sets them by -X) are unknown from the module proxy.
  timed "go build metallb-controller" run lab-metallb-controller-build \
    bash -c "cd '$src/wrapper' && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o '$out/metallb-controller' go.universe.tf/metallb/controller"
}
