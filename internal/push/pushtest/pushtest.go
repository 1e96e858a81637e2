// Package pushtest is a Web Push service for tests: an httptest server
// that issues subscriptions (their private keys stay here, as a
// browser's do), checks every push request as a push service would (the
// VAPID JWT signed by the server's key for this origin, and the headers
// of RFC 8030), decrypts its payload (RFC 8291, aes128gcm) and keeps the
// messages. Its answers can be scripted per subscription (404, 410, 429
// with Retry-After, ...).
package pushtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/hkdf"
)

// Message is a push as the service worker would get it, with what the
// request said about it.
type Message struct {
	Subscription string // the name it was issued under
	Payload      Payload
	Topic        string
	TTL          string
	Urgency      string
	Subject      string // the VAPID JWT's sub
	At           time.Time
}

// Payload is the decrypted JSON the server sends (API.md:
// {order_id, event, title, body, url}).
type Payload struct {
	OrderID string `json:"order_id"`
	Event   string `json:"event"`
	Title   string `json:"title"`
	Body    string `json:"body"`
	URL     string `json:"url"`
}

// Answer is a scripted answer to one push request.
type Answer struct {
	Status     int
	RetryAfter string // the Retry-After header, if any
}

// Post is one push request as it arrived, whatever it was answered.
type Post struct {
	Subscription string
	Status       int
	At           time.Time
}

// Service is the push service.
type Service struct {
	t   testing.TB
	srv *httptest.Server
	key *ecdsa.PublicKey // the application server's VAPID key
	raw string           // the same, base64url, as the k= of the header

	mu       sync.Mutex
	subs     map[string]*subscription // by name
	answers  map[string][]Answer
	messages []Message
	posts    []Post
	notify   chan struct{}
}

type subscription struct {
	key  *ecdh.PrivateKey
	auth []byte
}

// New starts a push service that accepts pushes signed with the VAPID
// public key vapidPublic (base64url, as GET /push/key answers); it stops
// when the test ends.
func New(t testing.TB, vapidPublic string) *Service {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(vapidPublic)
	if err != nil {
		t.Fatalf("pushtest: VAPID public key: %v", err)
	}
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		t.Fatalf("pushtest: VAPID public key: %v", err)
	}
	s := &Service{t: t, key: key, raw: vapidPublic, subs: map[string]*subscription{}, answers: map[string][]Answer{}, notify: make(chan struct{}, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the service's origin, http://127.0.0.1:port.
func (s *Service) URL() string { return s.srv.URL }

// Endpoint is the endpoint of the subscription name.
func (s *Service) Endpoint(name string) string { return s.srv.URL + "/push/" + name }

// Subscribe issues the subscription name, as a browser's pushManager
// would, and returns its PushSubscription as toJSON() gives it.
func (s *Service) Subscribe(name string) map[string]any {
	s.t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	s.mu.Lock()
	s.subs[name] = &subscription{key: key, auth: auth}
	s.mu.Unlock()
	return map[string]any{
		"endpoint":       s.Endpoint(name),
		"expirationTime": nil,
		"keys": map[string]string{
			"p256dh": base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
			"auth":   base64.RawURLEncoding.EncodeToString(auth),
		},
	}
}

// Script queues answers for the subscription's next requests; once they
// are used up it answers 201.
func (s *Service) Script(name string, answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[name] = append(s.answers[name], answers...)
}

// Messages returns the pushes accepted so far.
func (s *Service) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Posts returns every push request so far, in order of arrival.
func (s *Service) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// WaitMessages waits up to timeout until n pushes were accepted and
// returns them.
func (s *Service) WaitMessages(n int, timeout time.Duration) []Message {
	s.t.Helper()
	s.WaitFor(fmt.Sprintf("%d push messages", n), timeout, func() bool { return len(s.Messages()) >= n })
	return s.Messages()
}

// WaitFor waits up to timeout until cond holds, checking it after each
// request.
func (s *Service) WaitFor(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-s.notify:
		case <-deadline.C:
			s.t.Fatalf("pushtest: no %s within %v; got %+v", what, timeout, s.Messages())
		}
	}
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	defer s.signal()
	name, ok := strings.CutPrefix(r.URL.Path, "/push/")
	if r.Method != http.MethodPost || !ok {
		s.t.Errorf("pushtest: %s %s", r.Method, r.URL.Path)
		http.Error(w, "not a push", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	sub := s.subs[name]
	answer := Answer{Status: http.StatusCreated}
	if q := s.answers[name]; len(q) > 0 {
		answer, s.answers[name] = q[0], q[1:]
	}
	s.posts = append(s.posts, Post{Subscription: name, Status: answer.Status, At: time.Now()})
	s.mu.Unlock()
	if sub == nil {
		s.t.Errorf("pushtest: push to %q, which was never issued", name)
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	m, err := s.check(r, sub)
	if err != nil {
		s.t.Errorf("pushtest: push to %s: %v", name, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if answer.RetryAfter != "" {
		w.Header().Set("Retry-After", answer.RetryAfter)
	}
	w.WriteHeader(answer.Status)
	if answer.Status/100 != 2 {
		return
	}
	m.Subscription = name
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
}

func (s *Service) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// check verifies a push request as a push service does and decrypts it.
func (s *Service) check(r *http.Request, sub *subscription) (Message, error) {
	m := Message{Topic: r.Header.Get("Topic"), TTL: r.Header.Get("TTL"), Urgency: r.Header.Get("Urgency"), At: time.Now()}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return m, fmt.Errorf("Content-Encoding %q, want aes128gcm", ce)
	}
	subject, err := s.checkVAPID(r.Header.Get("Authorization"))
	if err != nil {
		return m, fmt.Errorf("VAPID: %w", err)
	}
	m.Subject = subject
	body, err := io.ReadAll(io.LimitReader(r.Body, 8192))
	if err != nil {
		return m, err
	}
	plain, err := Decrypt(body, sub.key, sub.auth)
	if err != nil {
		return m, fmt.Errorf("decrypt: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m.Payload); err != nil {
		return m, fmt.Errorf("payload %q: %w", plain, err)
	}
	return m, nil
}

// checkVAPID verifies "vapid t=<JWT>, k=<public key>" (RFC 8292): the key
// is the server's, the JWT is ES256 by it, for this origin, expiring
// within 24 hours; it returns the JWT's subject.
func (s *Service) checkVAPID(header string) (string, error) {
	params, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return "", fmt.Errorf("Authorization %q is not vapid", header)
	}
	var token, k string
	for _, p := range strings.Split(params, ",") {
		p = strings.TrimSpace(p)
		if v, ok := strings.CutPrefix(p, "t="); ok {
			token = v
		} else if v, ok := strings.CutPrefix(p, "k="); ok {
			k = v
		}
	}
	if k != s.raw {
		return "", fmt.Errorf("k=%q, want the server's public key %q", k, s.raw)
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(s.srv.URL), jwt.WithExpirationRequired())
	if err != nil {
		return "", err
	}
	if until := time.Until(claims.ExpiresAt.Time); until > 24*time.Hour {
		return "", fmt.Errorf("exp %v ahead, RFC 8292 allows at most 24 h", until)
	}
	if claims.Subject == "" {
		return "", errors.New("no sub")
	}
	return claims.Subject, nil
}

// Decrypt opens a message encrypted as RFC 8291 says (the receiver's
// side): body is the aes128gcm header (salt, record size, the sender's
// ephemeral public key) and one record, key and auth the subscription's.
func Decrypt(body []byte, key *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("shorter than the aes128gcm header")
	}
	salt, rs, idLen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idLen {
		return nil, errors.New("key id cut short")
	}
	keyID, record := body[21:21+idLen], body[21+idLen:]
	if uint32(len(record)) > rs {
		return nil, fmt.Errorf("a record of %d bytes, more than the record size %d", len(record), rs)
	}
	sender, err := ecdh.P256().NewPublicKey(keyID)
	if err != nil {
		return nil, fmt.Errorf("sender key: %w", err)
	}
	secret, err := key.ECDH(sender)
	if err != nil {
		return nil, err
	}
	// RFC 8291 section 3.4: the input keying material from the ECDH
	// secret and the auth secret, bound to both public keys.
	info := append(append([]byte("WebPush: info\x00"), key.PublicKey().Bytes()...), keyID...)
	ikm, err := expand(hkdf.Extract(sha256.New, secret, auth), info, 32)
	if err != nil {
		return nil, err
	}
	// RFC 8188 section 2.2: the content encryption key and nonce.
	prk := hkdf.Extract(sha256.New, ikm, salt)
	cek, err := expand(prk, []byte("Content-Encoding: aes128gcm\x00"), 16)
	if err != nil {
		return nil, err
	}
	nonce, err := expand(prk, []byte("Content-Encoding: nonce\x00"), 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, err
	}
	// The last record ends with the delimiter 0x02, then zero padding.
	end := bytes.TrimRight(plain, "\x00")
	if len(end) == 0 || end[len(end)-1] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return end[:len(end)-1], nil
}

func expand(prk, info []byte, n int) ([]byte, error) {
	out := make([]byte, n)
	_, err := io.ReadFull(hkdf.Expand(sha256.New, prk, info), out)
	return out, err
}
