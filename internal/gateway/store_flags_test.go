package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
)

func TestStoreFlagsParse(t *testing.T) {
	var cfg gateway.Config
	fs := flag.NewFlagSet("gw", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	err := fs.Parse([]string{"--etcd-endpoints", "https://10.0.0.5:2379, https://10.0.0.6:2379", "--replica-id", "agent-1",
		"--etcd-ca", "ca.pem", "--etcd-cert", "c.pem", "--etcd-key", "k.pem", "--admin-tls-cert", "a.pem", "--admin-tls-key", "a.key", "--etcd-lease-ttl", "4s"})
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Etcd
	if !slices.Equal(e.Endpoints, []string{"https://10.0.0.5:2379", "https://10.0.0.6:2379"}) || e.Prefix != "/vamp" || e.ReplicaID != "agent-1" ||
		e.CA != "ca.pem" || e.Cert != "c.pem" || e.Key != "k.pem" || cfg.AdminTLSCert != "a.pem" || cfg.AdminTLSKey != "a.key" || e.LeaseTTL != 4*time.Second {
		t.Errorf("flags parsed into %+v, admin TLS %q %q", e, cfg.AdminTLSCert, cfg.AdminTLSKey)
	}
}

func TestStoreConfigFaultsStopTheStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		etcd gateway.EtcdConfig
		want string
	}{
		{"prefix without slash", gateway.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}, Prefix: "vamp"}, "--etcd-prefix"},
		{"prefix with trailing slash", gateway.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}, Prefix: "/vamp/"}, "--etcd-prefix"},
		{"replica id with slash", gateway.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}, ReplicaID: "a/b"}, "--replica-id"},
		{"cert without key", gateway.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}, Cert: "c.pem"}, "--etcd-key"},
		{"TLS without endpoints", gateway.EtcdConfig{CA: "ca.pem"}, "--etcd-endpoints"},
		{"lease of a fraction of a second", gateway.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}, LeaseTTL: 1500 * time.Millisecond}, "--etcd-lease-ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.New(gateway.Config{AdminToken: testToken, Etcd: tc.etcd, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error naming %s, got %v", tc.want, err)
			}
		})
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns their paths and a pool
// that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vamp-gateway admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "admin.pem"), filepath.Join(dir, "admin.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestAdminAPIServesTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	h := startGateway(t, func(c *gateway.Config) { c.AdminTLSCert, c.AdminTLSKey = certFile, keyFile })
	addr := h.srv.AdminAddr().String()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/v1/gateways", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET over TLS: status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP gets no admin API.
	plain, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP to a TLS admin API answered 200")
		}
	}
	// A certificate without its key is refused when the admin API binds, naming both flags.
	srv, err := gateway.New(gateway.Config{AdminListen: "127.0.0.1:0", AdminToken: testToken, AdminTLSCert: certFile, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Listen(); err == nil || !strings.Contains(err.Error(), "--admin-tls-key") {
		t.Errorf("Listen with a certificate and no key: want an error naming --admin-tls-key, got %v", err)
	}
}
