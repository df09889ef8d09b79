//go:build !unix

package nvm

import "os"

func lock(*os.File) error { return nil }
