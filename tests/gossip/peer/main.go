// cairn's memberlist test peer (memberlist 0.2.2 as Debian ships it).
//
//	peer goldens DIR   writes memberlist's bytes for the golden cases into DIR
//	peer check DIR     checks the stored goldens in DIR against memberlist
//	peer run FLAGS     runs one memberlist node (loopback only), see run.go
//
// It is built by build.sh against a copy of Debian's memberlist package with
// memberlist_goldens.go compiled into it; `run` uses memberlist's exported
// API and PeerNodeStates from memberlist_states.go.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/memberlist"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "goldens", "check":
		if len(os.Args) != 3 {
			usage()
		}
		if os.Args[1] == "goldens" {
			err = memberlist.GoldenWrite(os.Args[2])
		} else {
			err = memberlist.GoldenCheck(os.Args[2])
		}
	case "run":
		err = run(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: peer goldens DIR | peer check DIR | peer run -name N -port P [flags]")
	os.Exit(2)
}
