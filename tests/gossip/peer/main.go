// cairn's memberlist test peer. Today it has two modes:
//
//	peer goldens DIR   writes memberlist's bytes for the golden cases into DIR
//	peer check DIR     checks the stored goldens in DIR against memberlist
//
// It is built by build.sh against a copy of Debian's memberlist package with
// memberlist_goldens.go compiled into it.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/memberlist"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: peer goldens|check DIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "goldens":
		err = memberlist.GoldenWrite(os.Args[2])
	case "check":
		err = memberlist.GoldenCheck(os.Args[2])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
