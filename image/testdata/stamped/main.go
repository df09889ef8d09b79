// Command stamped prints the identity of its own image, for image's Build test.
package main

import (
	"fmt"
	"os"

	"github.com/modbatt/hilrun/image"
)

func main() {
	img, err := image.Current("stamped")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s %s %s\n", img.Version, img.Commit, img.HashHex())
}
