// The browser client library: being written.
