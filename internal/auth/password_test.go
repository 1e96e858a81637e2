package auth_test

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// productionCost is read before TestMain lowers the cost for speed.
var productionCost = auth.BcryptCost

func TestMain(m *testing.M) {
	auth.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

func TestProductionCost(t *testing.T) {
	if productionCost != 12 {
		t.Errorf("BcryptCost = %d, want 12", productionCost)
	}
}

func TestPassword(t *testing.T) {
	h, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != bcrypt.MinCost {
		t.Errorf("cost = %d, %v; want %d", cost, err, bcrypt.MinCost)
	}
	if !auth.CheckPassword(h, "correct horse") {
		t.Error("right password rejected")
	}
	for _, wrong := range []string{"", "correct horse ", "Correct horse", "correct hors"} {
		if auth.CheckPassword(h, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
	h2, _ := auth.HashPassword("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
}

func TestMalformedHash(t *testing.T) {
	for _, h := range []string{"", "correct horse", "$2a$04$short", "$argon2id$v=19$m=65536,t=1,p=1$abc$def"} {
		if auth.CheckPassword(h, "correct horse") {
			t.Errorf("malformed hash %q accepted", h)
		}
	}
}

func TestLongPassword(t *testing.T) {
	long := strings.Repeat("a", auth.MaxPasswordLen)
	h, err := auth.HashPassword(long)
	if err != nil {
		t.Fatalf("%d bytes refused: %v", auth.MaxPasswordLen, err)
	}
	if !auth.CheckPassword(h, long) {
		t.Error("72-byte password rejected")
	}
	// bcrypt would ignore the 73rd byte; we refuse instead of matching a prefix.
	if auth.CheckPassword(h, long+"b") {
		t.Error("longer password with the same 72-byte prefix accepted")
	}
	_, err = auth.HashPassword(long + "b")
	if got := delivery.ErrorCode(err); got != delivery.EINVALID {
		t.Errorf("HashPassword(73 bytes) code = %q (%v), want %q", got, err, delivery.EINVALID)
	}
}
