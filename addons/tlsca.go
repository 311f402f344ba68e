package addons

// This file holds what the Redis and Kafka add-ons share: a local
// certificate authority kept in an add-on's directory, self-signed
// certificates, secrets and ports that stay the same between runs, and
// atomic file writes.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 2 * 365 * 24 * time.Hour
	// renewBefore re-issues a certificate this long before it expires, so
	// a long-lived app directory never serves an expired one.
	renewBefore = 30 * 24 * time.Hour
)

// keyKind is the private key algorithm of an issued certificate.
type keyKind int

const (
	keyECDSA keyKind = iota
	// keyRSA is PKCS#1 RSA ("BEGIN RSA PRIVATE KEY"), the shape of
	// Heroku's KAFKA_CLIENT_CERT_KEY, for clients that only read that.
	keyRSA
)

// localCA is a certificate authority created once per add-on directory.
type localCA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
}

// loadOrCreateCA reads ca.pem/ca.key from dir, creating them on first use
// or when the certificate is close to expiry.
func loadOrCreateCA(dir, commonName string) (*localCA, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	if ca, err := loadCA(certPath, keyPath); err == nil {
		return ca, nil
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errRenew) {
		return nil, err
	}
	key, err := newKey(keyECDSA)
	if err != nil {
		return nil, err
	}
	tmpl, err := certTemplate(commonName, caValidity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	if _, err := savePair(certPath, keyPath, der, key); err != nil {
		return nil, err
	}
	return loadCA(certPath, keyPath)
}

var errRenew = errors.New("certificate must be renewed")

func loadCA(certPath, keyPath string) (*localCA, error) {
	pair, err := loadPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	if !pair.cert.IsCA {
		return nil, fmt.Errorf("%s is not a ca certificate: %w", certPath, errRenew)
	}
	return &localCA{cert: pair.cert, key: pair.key, certPEM: pair.certPEM}, nil
}

// certPair is a certificate and its key, parsed and as PEM.
type certPair struct {
	cert            *x509.Certificate
	key             crypto.Signer
	certPEM, keyPEM []byte
}

// TLS returns the pair for a tls.Config.
func (p *certPair) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{p.cert.Raw}, PrivateKey: p.key, Leaf: p.cert}
}

// loadPair reads a PEM certificate and key; it fails with errRenew when the
// certificate expires soon.
func loadPair(certPath, keyPath string) (*certPair, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, fmt.Errorf("%s: no pem certificate: %w", certPath, errRenew)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, errors.Join(err, errRenew))
	}
	if time.Until(cert.NotAfter) < renewBefore {
		return nil, fmt.Errorf("%s expires %s: %w", certPath, cert.NotAfter.Format(time.DateOnly), errRenew)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, errors.Join(err, errRenew))
	}
	signer, ok := kp.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type: %w", keyPath, errRenew)
	}
	return &certPair{cert: cert, key: signer, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// issue returns the certificate <name>.pem/<name>.key from dir, signed by
// ca, issuing it when missing, near expiry or signed by another CA.
func (ca *localCA) issue(dir, name string, kind keyKind, usage x509.ExtKeyUsage, hosts []string) (*certPair, error) {
	certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if pair, err := loadPair(certPath, keyPath); err == nil && pair.cert.CheckSignatureFrom(ca.cert) == nil {
		return pair, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errRenew) {
		return nil, err
	}
	key, err := newKey(kind)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(name, usage, hosts)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue %s certificate: %w", name, err)
	}
	return savePair(certPath, keyPath, der, key)
}

// selfSigned returns a self-signed server certificate kept in dir, like
// the one Heroku Key-Value Store serves (clients skip verification).
func selfSigned(dir, name string, hosts []string) (*certPair, error) {
	certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if pair, err := loadPair(certPath, keyPath); err == nil {
		return pair, nil
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errRenew) {
		return nil, err
	}
	key, err := newKey(keyECDSA)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(name, x509.ExtKeyUsageServerAuth, hosts)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create %s certificate: %w", name, err)
	}
	return savePair(certPath, keyPath, der, key)
}

func savePair(certPath, keyPath string, der []byte, key crypto.Signer) (*certPair, error) {
	certPEM, keyPEM, err := encodePair(der, key)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	return loadPair(certPath, keyPath)
}

func newKey(kind keyKind) (crypto.Signer, error) {
	if kind == keyRSA {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate rsa key: %w", err)
		}
		return k, nil
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ecdsa key: %w", err)
	}
	return k, nil
}

func encodePair(der []byte, key crypto.Signer) (certPEM, keyPEM []byte, err error) {
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if k, ok := key.(*rsa.PrivateKey); ok {
		return certPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	}
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode private key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}), nil
}

func certTemplate(commonName string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"dynobox"}},
		NotBefore:    now.Add(-time.Hour), // tolerate small clock skew
		NotAfter:     now.Add(validity),
	}, nil
}

func leafTemplate(commonName string, usage x509.ExtKeyUsage, hosts []string) (*x509.Certificate, error) {
	tmpl, err := certTemplate(commonName, leafValidity)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl, nil
}

// loopbackHosts are the names a loopback server certificate covers.
var loopbackHosts = []string{"127.0.0.1", "localhost", "::1"}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so readers (and a crash) see the old or the new
// content, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// loadOrCreateSecret returns the hex secret kept in path (0600), creating a
// random one of n bytes on first use.
func loadOrCreateSecret(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read secret: %w", err)
	}
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	secret := hex.EncodeToString(buf)
	if err := writeFileAtomic(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

// listenSticky listens on 127.0.0.1 at the port remembered in portFile, so
// URLs stay the same between runs. When that port is taken (or none is
// remembered) it takes a free one, logs the change and remembers it.
func listenSticky(portFile string, logf func(string, ...any)) (net.Listener, error) {
	want := 0
	if b, err := os.ReadFile(portFile); err == nil {
		want, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if want > 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(want)))
		if err == nil {
			return ln, nil
		}
		logf("port %d is in use (%v); taking another one", want, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := writeFileAtomic(portFile, []byte(strconv.Itoa(port)+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if want > 0 {
		logf("listening on port %d instead of %d; the URL changed", port, want)
	}
	return ln, nil
}
