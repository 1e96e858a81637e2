// Package web is the browser app, embedded in the binary: index.html (the
// app shell), ops.html (the operator page's shell), track.html (the
// tracking page's, /t/{token}), sw.js (the service worker of push
// notifications, served at the root for its scope), app/ (the screens) and
// client/ (the browser client library, an ES module other front ends may
// copy).
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html ops.html track.html sw.js app client
var files embed.FS

// FS holds the app's files, rooted at this folder.
var FS fs.FS = files
