package sipp

import (
	"os"
	"testing"

	"brygga/interop"
)

func TestMain(m *testing.M) { os.Exit(interop.Main(m)) }
