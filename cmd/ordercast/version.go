package main

// version is the release, set at build time:
// go build -ldflags "-X main.version=v1.4.0" ./cmd/ordercast. Empty, the
// operator page shows the build's (ops.BuildVersion).
var version = ""
