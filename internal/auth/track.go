package auth

// Tracking-link tokens are opaque like refresh tokens: 32 random bytes
// (256 bits), base64url, and the store keeps only their SHA-256. They are
// no JWT: a link is checked against the store on every use, so that its
// deletion takes effect at once.

// NewTrackToken returns a new tracking-link token and the hash to store.
func NewTrackToken() (token, hash string, err error) {
	return NewRefreshToken()
}

// HashTrackToken returns the stored form of a tracking-link token.
func HashTrackToken(token string) string { return HashRefreshToken(token) }

// TrackTokenLen is the length of every tracking-link token: a bearer
// token of another length is no link's (an access token is much longer).
const TrackTokenLen = 43

// LooksLikeTrackToken reports whether token has the form of a
// tracking-link token (TrackTokenLen characters of base64url), so that
// an access token is never looked up as one.
func LooksLikeTrackToken(token string) bool {
	if len(token) != TrackTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
