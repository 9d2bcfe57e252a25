// Command cert-manager-controller is the visibility lab's cert-manager
// controller: a small program of this project that runs cert-manager's own
// controllers (github.com/cert-manager/cert-manager, root module) as a host
// process against a kube-apiserver.
//
// Upstream's controller program (cmd/controller, a nested module) is not on
// the Go module proxy; the controllers themselves are in the root module and
// register themselves with pkg/controller when their packages are imported.
// This program imports the ones the lab needs (the Certificate pipeline, the
// CertificateRequest approver, the CA and SelfSigned signers and the
// Issuer/ClusterIssuer readiness checks), builds one controller.ContextFactory
// and runs them. It leaves out ACME, Vault, Venafi, the ingress/gateway shims,
// the CertificateSigningRequest signers, metrics and webhooks.
//
// Built by tests/cluster/lab/components/cert-manager-controller.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager"
	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/controller"
	crapprover "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Issuer implementations, registered with pkg/issuer by their init
	// functions; the issuers/clusterissuers controllers look them up there.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// defaultControllers is what the lab needs for a Certificate issued by a CA
// (Cluster)Issuer. The approver is part of it: the CA signer only signs a
// CertificateRequest once it has the Approved condition.
var defaultControllers = []string{
	trigger.ControllerName,
	issuing.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
	crapprover.ControllerName,
	crca.CRControllerName,
	clusterissuers.ControllerName,
	issuers.ControllerName,
}

// optionalControllers are compiled in but off unless --controllers names them.
var optionalControllers = []string{
	crselfsigned.CRControllerName,
}

type options struct {
	kubeconfig, master         string
	namespace                  string
	clusterResourceNamespace   string
	controllers                string
	workers                    int
	qps                        float64
	burst                      int
	leaderElect                bool
	leaderElectionNamespace    string
	leaderElectionLease        time.Duration
	enableCertificateOwnerRef  bool
	clusterIssuerAmbientCreds  bool
	issuerAmbientCreds         bool
	certificateRequestMinRetry time.Duration
	certificateRequestMaxRetry time.Duration
}

func main() {
	klog.InitFlags(flag.CommandLine) // -v, -vmodule, -logtostderr, ...
	var o options
	fs := flag.CommandLine
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "path to a kubeconfig (empty: in-cluster configuration)")
	fs.StringVar(&o.master, "master", "", "kube-apiserver address, overrides the kubeconfig's")
	fs.StringVar(&o.namespace, "namespace", "", "only watch this namespace (empty: all; the clusterissuers controller then does not run)")
	fs.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", "kube-system",
		"namespace holding the Secrets that ClusterIssuers refer to")
	fs.StringVar(&o.controllers, "controllers", strings.Join(defaultControllers, ","),
		"comma-separated controllers to run; '*' is all compiled in, '-NAME' removes one. Known: "+
			strings.Join(known(), ", "))
	fs.IntVar(&o.workers, "concurrent-workers", 5, "workers per controller")
	fs.Float64Var(&o.qps, "kube-api-qps", 20, "client-side QPS limit (ignored when the server has API Priority and Fairness)")
	fs.IntVar(&o.burst, "kube-api-burst", 50, "client-side burst limit (ignored when the server has API Priority and Fairness)")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "take a Lease before running the controllers")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "kube-system", "namespace of the leader election Lease")
	fs.DurationVar(&o.leaderElectionLease, "leader-election-lease-duration", 60*time.Second, "leader election lease duration")
	fs.BoolVar(&o.enableCertificateOwnerRef, "enable-certificate-owner-ref", false,
		"make each Certificate the owner of its Secret (the Secret is deleted with it)")
	fs.BoolVar(&o.clusterIssuerAmbientCreds, "cluster-issuer-ambient-credentials", true, "let ClusterIssuers use ambient credentials")
	fs.BoolVar(&o.issuerAmbientCreds, "issuer-ambient-credentials", false, "let Issuers use ambient credentials")
	fs.DurationVar(&o.certificateRequestMinRetry, "certificate-request-minimum-backoff-duration", time.Hour,
		"first wait before re-issuing after a failed CertificateRequest")
	fs.DurationVar(&o.certificateRequestMaxRetry, "certificate-request-maximum-backoff-duration", 32*time.Hour,
		"longest wait before re-issuing after failed CertificateRequests")
	flag.Parse()
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %q\n", fs.Args())
		os.Exit(2)
	}

	logf.InitLogs()
	defer logf.FlushLogs()
	if err := run(o); err != nil {
		logf.Log.Error(err, "cert-manager-controller failed")
		logf.FlushLogs()
		os.Exit(1)
	}
}

// known lists the registered controllers this binary contains.
func known() []string {
	var names []string
	for n := range controller.Known() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// enabledControllers resolves a --controllers value against the registry.
func enabledControllers(spec string) ([]string, error) {
	registered := controller.Known()
	var enabled []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case item == "*":
			for _, n := range known() {
				if !slices.Contains(enabled, n) {
					enabled = append(enabled, n)
				}
			}
		case strings.HasPrefix(item, "-"):
			n := item[1:]
			if _, ok := registered[n]; !ok {
				return nil, fmt.Errorf("unknown controller %q (known: %s)", n, strings.Join(known(), ", "))
			}
			enabled = slices.DeleteFunc(enabled, func(e string) bool { return e == n })
		default:
			if _, ok := registered[item]; !ok {
				return nil, fmt.Errorf("unknown controller %q (known: %s)", item, strings.Join(known(), ", "))
			}
			if !slices.Contains(enabled, item) {
				enabled = append(enabled, item)
			}
		}
	}
	if len(enabled) == 0 {
		return nil, errors.New("--controllers enables no controller")
	}
	return enabled, nil
}

func run(o options) error {
	enabled, err := enabledControllers(o.controllers)
	if err != nil {
		return err
	}
	if o.namespace != "" {
		// A ClusterIssuer's Secret lives outside a single watched namespace.
		enabled = slices.DeleteFunc(enabled, func(n string) bool { return n == clusterissuers.ControllerName })
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	log := logf.FromContext(ctx)

	opts := controller.ContextOptions{
		APIServerHost:      o.master,
		Kubeconfig:         o.kubeconfig,
		KubernetesAPIQPS:   float32(o.qps),
		KubernetesAPIBurst: o.burst,
		Namespace:          o.namespace,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace:        o.clusterResourceNamespace,
			ClusterIssuerAmbientCredentials: o.clusterIssuerAmbientCreds,
			IssuerAmbientCredentials:        o.issuerAmbientCreds,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerKind:  cmv1.IssuerKind,
			DefaultIssuerGroup: cmapi.GroupName,
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef: o.enableCertificateOwnerRef,
			// Copy every annotation from Certificate to CertificateRequest
			// except the ones tools keep for themselves (upstream's default).
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: o.certificateRequestMinRetry,
			CertificateRequestMaximumBackoffDuration: o.certificateRequestMaxRetry,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: 60},
	}
	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		return fmt.Errorf("building the controller context: %w", err)
	}

	runControllers := func(ctx context.Context) error {
		// The constructors register the informers they need with the shared
		// factories; start those only after every constructor has run.
		var loops []controller.Interface
		for _, n := range enabled {
			iface, err := controller.Known()[n](factory)
			if err != nil {
				return fmt.Errorf("constructing controller %s: %w", n, err)
			}
			loops = append(loops, iface)
		}
		shared, err := factory.Build()
		if err != nil {
			return fmt.Errorf("building the shared context: %w", err)
		}
		shared.KubeSharedInformerFactory.Start(ctx.Done())
		shared.SharedInformerFactory.Start(ctx.Done())
		shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
		if shared.GatewaySolverEnabled {
			shared.GWShared.Start(ctx.Done())
		}
		log.Info("starting controllers", "controllers", enabled, "clusterResourceNamespace", o.clusterResourceNamespace)

		errs := make(chan error, len(loops))
		var wg sync.WaitGroup
		for i, loop := range loops {
			wg.Add(1)
			go func(name string, loop controller.Interface) {
				defer wg.Done()
				if err := loop.Run(o.workers, ctx); err != nil {
					errs <- fmt.Errorf("controller %s: %w", name, err)
				}
			}(enabled[i], loop)
		}
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		return errors.Join(all...)
	}

	if !o.leaderElect {
		return runControllers(ctx)
	}
	return withLeaderElection(ctx, o, runControllers)
}

// withLeaderElection runs fn while holding the Lease
// LEADER-ELECTION-NAMESPACE/cert-manager-controller; losing it ends the
// program.
func withLeaderElection(ctx context.Context, o options, fn func(context.Context) error) error {
	cfg, err := clientcmd.BuildConfigFromFlags(o.master, o.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading the kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s-%d-external-cert-manager-controller", host, os.Getpid())
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, o.leaderElectionNamespace, "cert-manager-controller",
		client.CoreV1(), client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return err
	}
	var runErr error
	lost := errors.New("leader election lost")
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.leaderElectionLease,
		RenewDeadline:   o.leaderElectionLease * 2 / 3,
		RetryPeriod:     o.leaderElectionLease / 4,
		ReleaseOnCancel: true,
		Name:            "cert-manager-controller",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				runErr = fn(ctx)
				cancel(nil)
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					cancel(lost)
				}
			},
		},
	})
	if runErr != nil {
		return runErr
	}
	if errors.Is(context.Cause(ctx), lost) {
		return lost
	}
	return nil
}
