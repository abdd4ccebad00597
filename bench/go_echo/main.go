// go_echo: the Go side of the echo benchmark (bench/echo_compare.sh), stdlib only.
//
//	go_echo server <procs> <port> [max_seconds]
//	go_echo client <address> <conns> <seconds> <impl> <procs>
//
// server: serves TCP echo on 127.0.0.1:<port> with GOMAXPROCS=procs, one goroutine per
// connection, the same loop as gocxx's `gocxx-bench echo_server` (a 16 KiB buffer: read what
// is there, write it all back). Not io.Copy: on Linux it would splice(2) socket to socket,
// which is a different server. Exits after max_seconds (default 60), like the anchors.
//
// client: the load. <conns> connections, each a goroutine that writes a 512-byte message,
// reads the 512-byte echo (checking every byte) and repeats, for a 0.5 s warm-up and then
// <seconds> measured. GOMAXPROCS is Go's default: the CPUs this process may run on (one
// under `taskset -c 1`). Prints
//
//	bench=echo_<conns> impl=<impl> procs=<procs> value=<msgs/s> unit=msg/s
//	# msgs=<messages in the measured window> seconds=<its length> total=<messages in all>
//
// where impl and procs name the server under test; total (warm-up included) is what
// echo_compare.sh divides the server's CPU time by. Any error before the window closes
// (a wrong echo, a refused or reset connection) is fatal: exit 1 with a message.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const msgSize = 512

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "go_echo: "+f+"\n", a...)
	os.Exit(1)
}

func number(s string, what string) int {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		fmt.Fprintf(os.Stderr, "go_echo: bad %s %q\n", what, s)
		os.Exit(2)
	}
	return v
}

func serve(procs int, port string, maxSec int) {
	runtime.GOMAXPROCS(procs)
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		die("%v", err)
	}
	go func() {
		time.Sleep(time.Duration(maxSec) * time.Second)
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go_echo: %v\n", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 16*1024)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(c)
	}
}

// One counter per connection, each on its own cache line.
type counter struct {
	n int64
	_ [56]byte
}

func client(addr string, conns int, seconds int, impl string, procs int) {
	counts := make([]counter, conns)
	var stop int32
	var failed int32
	var wg sync.WaitGroup
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			die("dial %s: %v", addr, err)
		}
		cs[i] = c
	}
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			msg := make([]byte, msgSize)
			for j := range msg {
				msg[j] = byte('a' + (i+j)%26)
			}
			back := make([]byte, msgSize)
			for atomic.LoadInt32(&stop) == 0 {
				if _, err := c.Write(msg); err != nil {
					if atomic.LoadInt32(&stop) == 0 {
						fmt.Fprintf(os.Stderr, "go_echo: write: %v\n", err)
						atomic.StoreInt32(&failed, 1)
					}
					return
				}
				if _, err := io.ReadFull(c, back); err != nil {
					if atomic.LoadInt32(&stop) == 0 {
						fmt.Fprintf(os.Stderr, "go_echo: read: %v\n", err)
						atomic.StoreInt32(&failed, 1)
					}
					return
				}
				if !bytes.Equal(back, msg) {
					fmt.Fprintf(os.Stderr, "go_echo: connection %d: wrong echo\n", i)
					atomic.StoreInt32(&failed, 1)
					return
				}
				atomic.AddInt64(&counts[i].n, 1)
			}
		}(i, c)
	}
	sum := func() int64 {
		var s int64
		for i := range counts {
			s += atomic.LoadInt64(&counts[i].n)
		}
		return s
	}
	time.Sleep(500 * time.Millisecond) // warm-up: connections running, caches and buffers warm
	start, t0 := sum(), time.Now()
	time.Sleep(time.Duration(seconds) * time.Second)
	end, el := sum(), time.Since(t0)
	if atomic.LoadInt32(&failed) != 0 {
		die("the load failed (see above)")
	}
	atomic.StoreInt32(&stop, 1)
	for _, c := range cs {
		c.Close()
	}
	wg.Wait()
	msgs, total := end-start, sum()
	fmt.Printf("bench=echo_%d impl=%s procs=%d value=%.6g unit=msg/s\n", conns, impl, procs,
		float64(msgs)/el.Seconds())
	fmt.Printf("# msgs=%d seconds=%.6f total=%d\n", msgs, el.Seconds(), total)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: go_echo server <procs> <port> [max_seconds] | go_echo client <address> <conns> <seconds> <impl> <procs>")
	}
	switch os.Args[1] {
	case "server":
		if len(os.Args) < 4 {
			die("usage: go_echo server <procs> <port> [max_seconds]")
		}
		maxSec := 60
		if len(os.Args) > 4 {
			maxSec = number(os.Args[4], "max_seconds")
		}
		serve(number(os.Args[2], "procs"), strconv.Itoa(number(os.Args[3], "port")), maxSec)
	case "client":
		if len(os.Args) < 7 {
			die("usage: go_echo client <address> <conns> <seconds> <impl> <procs>")
		}
		client(os.Args[2], number(os.Args[3], "conns"), number(os.Args[4], "seconds"),
			os.Args[5], number(os.Args[6], "procs"))
	default:
		die("unknown mode %q (server or client)", os.Args[1])
	}
}
