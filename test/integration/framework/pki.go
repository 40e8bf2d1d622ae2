package framework

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"

	certutil "k8s.io/client-go/util/cert"
)

// writeServiceAccountKeys generates an RSA key pair and writes it as PEM:
// the apiserver signs tokens with the private key and verifies with the
// public one; kube-controller-manager gets the private key too.
func writeServiceAccountKeys(dir string) (privPath, pubPath string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	privPath = filepath.Join(dir, "sa.key")
	pubPath = filepath.Join(dir, "sa.pub")
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return "", "", err
	}
	return privPath, pubPath, nil
}

// writeServingCert pre-populates <certDir>/apiserver.{crt,key}, the files
// kube-apiserver would otherwise self-generate under --cert-dir. Doing it
// ourselves means the CA is known before the apiserver starts, so clients and
// the kubeconfig verify TLS instead of skipping verification.
// The returned bundle (serving cert followed by its CA) is a valid CA file.
func writeServingCert(certDir string) (bundlePath string, bundle []byte, err error) {
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return "", nil, err
	}
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("127.0.0.1",
		[]net.IP{net.ParseIP("10.0.0.1")}, // first IP of --service-cluster-ip-range
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"})
	if err != nil {
		return "", nil, err
	}
	bundlePath = filepath.Join(certDir, "apiserver.crt")
	if err := os.WriteFile(bundlePath, certPEM, 0o644); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(certDir, "apiserver.key"), keyPEM, 0o600); err != nil {
		return "", nil, err
	}
	return bundlePath, certPEM, nil
}

// writeTokenFile writes a static token file with one admin user in
// system:masters (bypasses RBAC) and returns the token.
func writeTokenFile(path string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	line := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", token)
	return token, os.WriteFile(path, []byte(line), 0o600)
}
