package flash_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/protocol/suite"
)

// The bench signs each image with the authority's key; an emulated device's boot loader takes
// only images whose bytes and signature check.
func ExampleEmulated() {
	authority, _ := suite.NewPrivateKey(bytes.Repeat([]byte{7}, 32))
	b := []byte("module firmware image")
	img, _ := flash.SignImage(authority, flash.Image{Bytes: b, ID: image.FromBytes("firmware", "1.4.0", "0f54b47", b)})

	loader := flash.NewLoader("firmware", authority.Public())
	err := flash.Emulated{Target: loader}.Flash(context.Background(), img, func(done, total int) {
		fmt.Printf("%d/%d bytes\n", done, total)
	})
	id, _ := loader.Running()
	fmt.Println(err, id.Name, id.Version)

	img.Bytes = append([]byte(nil), b...)
	img.Bytes[0] ^= 1
	err = flash.Emulated{Target: flash.NewLoader("firmware", authority.Public())}.Flash(context.Background(), img, nil)
	fmt.Println(errors.Is(err, flash.ErrCorrupt))
	// Output:
	// 0/21 bytes
	// 21/21 bytes
	// <nil> firmware 1.4.0
	// true
}
