// The web app: being written.
