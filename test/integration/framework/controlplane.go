// Package framework starts a real local Kubernetes control plane (etcd,
// kube-apiserver and optionally kube-controller-manager) from binaries for
// integration tests and demos, and tears it down reliably.
package framework

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultControllers is the kube-controller-manager --controllers default.
// Test nodes have no kubelet, so their heartbeats go stale: the node
// lifecycle controller would mark them NotReady/unreachable and taint them,
// and the taint-eviction controller would then evict every pod.
var DefaultControllers = []string{"*", "-node-lifecycle-controller", "-taint-eviction-controller"}

// readyTimeout bounds how long each component may take to become healthy.
const readyTimeout = 60 * time.Second

// Options configures Start.
type Options struct {
	// WithControllerManager also starts kube-controller-manager.
	WithControllerManager bool
	// Controllers is passed to kube-controller-manager --controllers;
	// DefaultControllers if empty.
	Controllers []string
	// Logf receives progress messages; discarded if nil.
	Logf func(format string, args ...any)
	// LogDir receives the component logs (etcd.log, kube-apiserver.log, ...);
	// defaults to Dir. Use a distinct directory per control plane. Unlike
	// Dir it is never removed.
	LogDir string
}

// ControlPlane is a running etcd + kube-apiserver (+ kube-controller-manager).
type ControlPlane struct {
	// RestConfig authenticates as an admin in system:masters.
	RestConfig *rest.Config
	Client     kubernetes.Interface
	// KubeconfigPath is an admin kubeconfig for other processes
	// (scheduler, descheduler, kube-controller-manager).
	KubeconfigPath string
	// Dir is the temporary working directory (etcd data, certs, keys).
	Dir    string
	LogDir string
	// BinDir holds the control-plane binaries.
	BinDir string
	// CAFile is the PEM CA bundle that verifies the apiserver serving cert.
	CAFile string

	Etcd              *Process
	APIServer         *Process
	ControllerManager *Process // nil unless Options.WithControllerManager

	logf      func(string, ...any)
	mu        sync.Mutex
	extra     []*Process // started via StartProcess/StartProcessForTest
	stopHooks []func()   // e.g. the fake kubelet; run first on Stop
	stopOnce  sync.Once
}

// Start launches the control plane and waits until it is ready. On error
// everything already started is stopped again.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, retErr error) {
	began := time.Now()
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	binDir, err := ControlPlaneBinDir()
	if err != nil {
		return nil, err
	}
	if err := EnsureControlPlaneBinaries(binDir); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "snug-controlplane-")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: dir, LogDir: opts.LogDir, BinDir: binDir, logf: logf}
	if cp.LogDir == "" {
		cp.LogDir = dir
	} else if err := os.MkdirAll(cp.LogDir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			cp.Stop()
		}
	}()

	// etcd client, etcd peer, apiserver and controller-manager ports.
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	etcdURL, err := cp.startEtcd(ctx, ports[0], ports[1])
	if err != nil {
		return nil, err
	}
	if err := cp.startAPIServer(ctx, etcdURL, ports[2]); err != nil {
		return nil, err
	}
	logf("etcd and kube-apiserver ready after %v (dir %s)", time.Since(began).Round(time.Millisecond), dir)
	if opts.WithControllerManager {
		controllers := opts.Controllers
		if len(controllers) == 0 {
			controllers = DefaultControllers
		}
		if err := cp.startControllerManager(ctx, ports[3], controllers); err != nil {
			return nil, err
		}
		logf("kube-controller-manager ready after %v", time.Since(began).Round(time.Millisecond))
	} else if err := cp.startNamespaceControllers(ctx); err != nil {
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) startEtcd(ctx context.Context, clientPort, peerPort int) (string, error) {
	clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	args := []string{
		"--name=snug",
		"--data-dir=" + filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=snug=" + peerURL,
		"--initial-cluster-state=new",
		// Test data is disposable: skipping fsync makes writes much faster.
		"--unsafe-no-fsync",
		"--quota-backend-bytes=" + strconv.Itoa(2<<30),
		"--log-level=warn",
	}
	p, err := StartProcess("etcd", filepath.Join(cp.BinDir, "etcd"), args, filepath.Join(cp.LogDir, "etcd.log"))
	if err != nil {
		return "", err
	}
	cp.Etcd = p
	err = waitFor(ctx, p, func(ctx context.Context) bool {
		return httpOK(ctx, http.DefaultClient, clientURL+"/health", `"health":"true"`)
	})
	return clientURL, err
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, etcdURL string, port int) error {
	certDir := filepath.Join(cp.Dir, "apiserver-certs")
	caFile, caData, err := writeServingCert(certDir)
	if err != nil {
		return err
	}
	saKey, saPub, err := writeServiceAccountKeys(cp.Dir)
	if err != nil {
		return err
	}
	token, err := writeTokenFile(filepath.Join(cp.Dir, "tokens.csv"))
	if err != nil {
		return err
	}
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + certDir, // holds our pre-generated apiserver.{crt,key}
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saPub,
		"--service-account-signing-key-file=" + saKey,
		"--token-auth-file=" + filepath.Join(cp.Dir, "tokens.csv"),
		"--authorization-mode=Node,RBAC",
		// Admission plugins stay at upstream's defaults, as in a real
		// cluster. Their consequences are handled as a cluster handles them:
		// ServiceAccount rejects pods until the namespace's "default"
		// ServiceAccount exists and gives every pod a token volume that
		// projects ConfigMap kube-root-ca.crt (CreateNamespace waits for both,
		// created by kube-controller-manager or startNamespaceControllers);
		// TaintNodesByCondition taints new nodes not-ready (CreateNodes
		// removes the taint from Ready nodes, as the disabled node lifecycle
		// controller would).
		"--allow-privileged=true",
		// The endpoint reconciler would publish --advertise-address in the
		// "kubernetes" Endpoints, which rejects loopback IPs and logs an error
		// every 10s. Nothing in the tests reaches the apiserver via that service.
		"--endpoint-reconciler-type=none",
	}
	p, err := StartProcess("kube-apiserver", filepath.Join(cp.BinDir, "kube-apiserver"), args,
		filepath.Join(cp.LogDir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	cp.APIServer = p
	cp.CAFile = caFile

	cp.RestConfig = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(port),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caData},
		// Tests create many objects quickly; the default 5 QPS throttles them.
		QPS:   200,
		Burst: 400,
	}
	if cp.Client, err = kubernetes.NewForConfig(cp.RestConfig); err != nil {
		return err
	}
	if err := cp.writeKubeconfig(caData, token); err != nil {
		return err
	}
	rc := cp.Client.Discovery().RESTClient()
	return waitFor(ctx, p, func(ctx context.Context) bool {
		body, err := rc.Get().AbsPath("/readyz").Do(ctx).Raw()
		return err == nil && string(body) == "ok"
	})
}

func (cp *ControlPlane) writeKubeconfig(caData []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["snug"] = &clientcmdapi.Cluster{Server: cp.RestConfig.Host, CertificateAuthorityData: caData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["snug"] = &clientcmdapi.Context{Cluster: "snug", AuthInfo: "admin"}
	cfg.CurrentContext = "snug"
	cp.KubeconfigPath = filepath.Join(cp.Dir, "admin.kubeconfig")
	return clientcmd.WriteToFile(*cfg, cp.KubeconfigPath)
}

func (cp *ControlPlane) startControllerManager(ctx context.Context, port int, controllers []string) error {
	saKey := filepath.Join(cp.Dir, "sa.key")
	args := []string{
		"--kubeconfig=" + cp.KubeconfigPath,
		// No --authentication/authorization-kubeconfig: /healthz is always
		// allowed, and without --client-ca-file the apiserver never creates
		// the extension-apiserver-authentication ConfigMap kcm would look up.
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port), // 0 would disable /healthz
		"--cert-dir=" + filepath.Join(cp.Dir, "kcm-certs"),
		"--controllers=" + strings.Join(controllers, ","),
		"--service-account-private-key-file=" + saKey,
		"--root-ca-file=" + cp.CAFile,
		// All controllers share the admin credentials; per-controller
		// service-account tokens would add startup latency for nothing.
		"--use-service-account-credentials=false",
	}
	p, err := StartProcess("kube-controller-manager", filepath.Join(cp.BinDir, "kube-controller-manager"), args,
		filepath.Join(cp.LogDir, "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	cp.ControllerManager = p
	// /healthz is in --authorization-always-allow-paths; the serving cert is
	// self-signed by kcm, hence no verification.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	defer hc.CloseIdleConnections()
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	return waitFor(ctx, p, func(ctx context.Context) bool { return httpOK(ctx, hc, url, "ok") })
}

// waitFor polls ready until it returns true, p exits, ctx ends or
// readyTimeout passes; errors carry the tail of p's log.
func waitFor(ctx context.Context, p *Process, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		attemptCtx, attemptCancel := context.WithTimeout(ctx, 5*time.Second)
		ok := ready(attemptCtx)
		attemptCancel()
		if ok {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before becoming ready (%v); log tail:\n%s", p.Name, p.Wait(), p.LogTail(40))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w; log tail:\n%s", p.Name, context.Cause(ctx), p.LogTail(40))
		case <-tick.C:
		}
	}
}

func httpOK(ctx context.Context, c *http.Client, url, want string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(buf[:n]), want)
}

// StartProcess starts an extra process (e.g. our scheduler) whose log goes to
// LogDir/<name>.log and which Stop terminates before the control plane.
func (cp *ControlPlane) StartProcess(name, bin string, args ...string) (*Process, error) {
	p, err := StartProcess(name, bin, args, filepath.Join(cp.LogDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cp.mu.Lock()
	cp.extra = append(cp.extra, p)
	cp.mu.Unlock()
	return p, nil
}

// Processes returns all processes in start order: etcd, kube-apiserver,
// kube-controller-manager, then extra processes.
func (cp *ControlPlane) Processes() []*Process {
	var ps []*Process
	for _, p := range []*Process{cp.Etcd, cp.APIServer, cp.ControllerManager} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append(ps, cp.extra...)
}

// Stop stops everything in reverse start order and removes Dir unless
// SNUG_KEEP_TMP=1. It is idempotent.
func (cp *ControlPlane) Stop() {
	cp.stopOnce.Do(func() {
		cp.mu.Lock()
		hooks := cp.stopHooks
		cp.mu.Unlock()
		for i := len(hooks) - 1; i >= 0; i-- {
			hooks[i]()
		}
		ps := cp.Processes()
		for i := len(ps) - 1; i >= 0; i-- {
			ps[i].Stop()
		}
		if os.Getenv("SNUG_KEEP_TMP") == "1" {
			cp.logf("keeping control-plane dir %s", cp.Dir)
			return
		}
		if err := os.RemoveAll(cp.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			cp.logf("removing %s: %v", cp.Dir, err)
		}
	})
}

func (cp *ControlPlane) addStopHook(f func()) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.stopHooks = append(cp.stopHooks, f)
}
