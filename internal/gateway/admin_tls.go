package gateway

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
)

func registerAdminTLSFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.AdminTLSCert, "admin-tls-cert", "", "PEM certificate (chain) of the admin API; with --admin-tls-key the admin API serves HTTPS only")
	fs.StringVar(&c.AdminTLSKey, "admin-tls-key", "", "PEM private key of --admin-tls-cert")
}

// adminTLS wraps the admin API's listener in TLS when a certificate is configured.
func (s *Server) adminTLS(ln net.Listener) (net.Listener, error) {
	cert, key := s.cfg.AdminTLSCert, s.cfg.AdminTLSKey
	if cert == "" && key == "" {
		return ln, nil
	}
	if cert == "" || key == "" {
		ln.Close()
		return nil, errors.New("--admin-tls-cert and --admin-tls-key go together; set both or neither")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin API TLS (--admin-tls-cert %s, --admin-tls-key %s): %w", cert, key, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}), nil
}
