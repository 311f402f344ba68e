//go:build !linux

package router

import "net"

// Elsewhere the router serves every connection on its own goroutine.
type loops struct{}

func (r *Router) startLoops() {}

func (ls *loops) take(net.Conn, *handoff) bool { return false }
func (ls *loops) open() int                    { return 0 }
func (ls *loops) closeAll()                    {}
