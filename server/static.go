package server

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
)

// staticFile is one embedded file, ready to send.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
}

// webSecurityHeaders keep the app's pages to their own origin: scripts,
// styles and connections from it only, no framing.
var webSecurityHeaders = map[string]string{
	fiber.HeaderContentSecurityPolicy: "default-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	fiber.HeaderXContentTypeOptions: "nosniff",
	fiber.HeaderReferrerPolicy:      "no-referrer",
}

// contentTypes is fixed here rather than taken from the system's MIME
// database, which differs between machines (and modules must be served as
// JavaScript).
var contentTypes = map[string]string{
	".html": fiber.MIMETextHTMLCharsetUTF8,
	".js":   fiber.MIMETextJavaScriptCharsetUTF8,
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// loadStatic reads every file of fsys once, at start-up: the files are
// embedded, so their content and tags never change while serving.
func loadStatic(fsys fs.FS) (map[string]staticFile, error) {
	files := map[string]staticFile{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = fiber.MIMEOctetStream
		}
		files["/"+name] = staticFile{body: body, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return files, err
}

// serveStatic answers GET for the web app: with page set, that page's file
// ("/index.html" for "/", whatever case or trailing slash the router let
// through); else the embedded file of the path's name. Browsers revalidate
// every file (no-cache) and get 304 while its tag holds, so a new binary is
// picked up at once.
func serveStatic(files map[string]staticFile, page string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name := page
		if name == "" {
			name = c.Path()
		}
		f, ok := files[name]
		if !ok {
			return delivery.Errorf(delivery.ENOTFOUND, "no such file")
		}
		for k, v := range webSecurityHeaders {
			c.Set(k, v)
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, f.etag)
		if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && strings.Contains(inm, f.etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, f.contentType)
		return c.Send(f.body)
	}
}
