package server

// mountRealtime mounts the websocket hub, the publish API and the web app
// (issue 3 replaces this placeholder).
func (s *Server) mountRealtime() {}
