// Package web is the browser app, embedded in the binary and served at /.
// For now it is one page that follows an order live; the full app of the
// roadmap grows here.
package web

import _ "embed"

// Index is the page served at /.
//
//go:embed index.html
var Index []byte
