// Command testapp is the program inside the test images: static, tiny, and
// able to act out what an update must cope with. It runs in images built
// FROM scratch, so it needs no shell.
//
//	testapp [-exit-after D] [-code N] [-healthy-after D | -healthy-when FILE] [-listen ADDR] [-term-delay D]
//	        [-lock FILE [-lock-for D | -lock-until FILE]] [-need FILE] [-symlink PATH=TARGET] [-show FILE]
//	testapp check        (the HEALTHCHECK: exit 0 once healthy)
//
// The -when and -until forms wait for a file the test creates (in a bind
// mount), so that a test decides the moment by an event, not a race of
// timers.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const healthyFile = "/tmp/healthy"

// held keeps the -lock file open (a collected *os.File closes, and a
// closed file's flock is gone).
var held *os.File

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		if _, err := os.Stat(healthyFile); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	exitAfter := flag.Duration("exit-after", 0, "exit after this long (0: run until stopped)")
	code := flag.Int("code", 1, "exit code for -exit-after")
	healthyAfter := flag.Duration("healthy-after", 0, "become healthy after this long")
	healthyWhen := flag.String("healthy-when", "", "become healthy once this file exists")
	listen := flag.String("listen", "", "answer every TCP connection on this address with the version")
	touch := flag.String("touch", "", "write the version to this file at start (to show a volume's data survives)")
	termDelay := flag.Duration("term-delay", 0, "on SIGTERM, take this long to exit (a slow stop, for kills during one)")
	lock := flag.String("lock", "", "hold an exclusive flock on this file (an app's update lock)")
	lockFor := flag.Duration("lock-for", 0, "release -lock after this long (0: hold it until exit)")
	lockUntil := flag.String("lock-until", "", "release -lock once this file exists")
	need := flag.String("need", "", "exit with code 6 at start unless this file can be read (a mounted config), printing it otherwise")
	symlink := flag.String("symlink", "", "PATH=TARGET: at start, replace PATH (what a writable bind holds) with a symbolic link to TARGET, as a hostile container would")
	show := flag.String("show", "", "at start, print this file's content, or that it cannot be read")
	flag.Parse()

	version := os.Getenv("VERSION")
	fmt.Printf("testapp %s started\n", version)
	if *need != "" {
		b, err := os.ReadFile(*need)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(6)
		}
		fmt.Printf("%s: %s\n", *need, b)
	}
	if *symlink != "" {
		path, target, _ := strings.Cut(*symlink, "=")
		err := os.RemoveAll(path)
		if err == nil {
			err = os.Symlink(target, path)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(7)
		}
		fmt.Printf("replaced %s with a link to %s\n", path, target)
	}
	if *show != "" {
		if b, err := os.ReadFile(*show); err == nil {
			fmt.Printf("show %s: %s\n", *show, b)
		} else {
			fmt.Printf("show %s: cannot read it\n", *show)
		}
	}
	if *touch != "" {
		if err := os.WriteFile(*touch, []byte(version), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
	}
	if *lock != "" {
		f, err := os.OpenFile(*lock, os.O_RDWR|os.O_CREATE, 0o644)
		if err == nil {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(5)
		}
		held = f
		fmt.Println("holding the lock")
		release := func() {
			held.Close()
			fmt.Println("released the lock")
		}
		switch {
		case *lockUntil != "":
			go func() { waitFor(*lockUntil); release() }()
		case *lockFor > 0:
			time.AfterFunc(*lockFor, release)
		}
	}
	go func() {
		if *healthyWhen != "" {
			waitFor(*healthyWhen)
		} else {
			time.Sleep(*healthyAfter)
		}
		os.WriteFile(healthyFile, []byte("ok"), 0o644)
	}()
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintln(c, version)
				c.Close()
			}
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var timeout <-chan time.Time
	if *exitAfter > 0 {
		timeout = time.After(*exitAfter)
	}
	select {
	case <-sig:
		fmt.Println("stopping")
		time.Sleep(*termDelay)
	case <-timeout:
		fmt.Printf("exiting with code %d\n", *code)
		os.Exit(*code)
	}
}

// waitFor returns once file exists.
func waitFor(file string) {
	for {
		if _, err := os.Stat(file); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
